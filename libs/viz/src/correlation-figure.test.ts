import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { viridis } from './colormap.ts';
import {
  correlationFigureLayout,
  OUTLINE_HALO,
  renderCorrelationFigure,
  TRUE_OUTLINE_ON_CONTEXT,
  TRUE_OUTLINE_ON_PREDICTION,
} from './correlation-figure.ts';
import { exampleFigureInput } from './fixtures/example-figure.ts';

async function decode(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return {
    width: info.width,
    height: info.height,
    at: (x: number, y: number) => [data[(y * info.width + x) * 3], data[(y * info.width + x) * 3 + 1], data[(y * info.width + x) * 3 + 2]],
  };
}

test('the PNG decodes to the laid-out size; 32 px contexts are upscaled to 192 px', async () => {
  const input = exampleFigureInput(32);
  const png = await renderCorrelationFigure(input);
  assert.deepEqual([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
  const layout = correlationFigureLayout(32, 32, 3);
  assert.equal(layout.scale, 6);
  assert.equal(layout.panelWidth, 192);
  const img = await decode(png);
  assert.deepEqual([img.width, img.height], [layout.width, layout.height]);
  // the context panel shows the context, nearest-neighbour: context pixel (20, 3) fills a 6×6 block
  const [cx, cy] = layout.panels(2).context;
  const o = (3 * 32 + 20) * 3;
  const expected = [...input.context.data.subarray(o, o + 3)];
  for (const [dx, dy] of [
    [0, 0],
    [5, 5],
    [2, 4],
  ])
    assert.deepEqual(img.at(cx + 20 * 6 + dx, cy + 3 * 6 + dy), expected);
});

test('outlines sit exactly on the mask boundary, with a dark halo just outside', async () => {
  // flat grey context, mask = context pixels [8, 16) × [10, 20), scale 6 → panel px [48, 96) × [60, 120)
  const c = 32;
  const context = { width: c, height: c, data: new Uint8Array(c * c * 3).fill(128) };
  const mask = new Uint8Array(c * c);
  for (let y = 10; y < 20; y++) for (let x = 8; x < 16; x++) mask[y * c + x] = 1;
  const exemplar = { width: 8, height: 10, data: new Uint8Array(8 * 10 * 3).fill(200) };
  const predicted = new Float32Array(c * c); // all zero: heatmap is viridis(0) over grey
  const png = await renderCorrelationFigure({ context, exemplars: [exemplar], trueMasks: [mask], predicted: [predicted] });
  const layout = correlationFigureLayout(c, c, 1);
  const t = layout.outline;
  assert.equal(t, 2);
  const img = await decode(png);
  const {
    context: [cx, cy],
    prediction: [px, py],
  } = layout.panels(0);
  const inBox = (x: number, y: number, grow: number) => x >= 48 - grow && x < 96 + grow && y >= 60 - grow && y < 120 + grow;
  const v = viridis(0);
  const heat = [0, 1, 2].map((k) => Math.round(0.4 * 128 + 0.6 * v[k]));
  let outlinePx = 0;
  for (let y = 0; y < layout.panelHeight; y++) {
    for (let x = 0; x < layout.panelWidth; x++) {
      const onOutline: boolean = inBox(x, y, 0) && !(x >= 48 + t && x < 96 - t && y >= 60 + t && y < 120 - t);
      // the halo is the 4-neighbourhood ring, so the ring's corners stay background
      const onHalo = !inBox(x, y, 0) && inBox(x, y, 1) && ((x >= 48 && x < 96) || (y >= 60 && y < 120));
      const ctx: number[] = onOutline ? [...TRUE_OUTLINE_ON_CONTEXT] : onHalo ? [...OUTLINE_HALO] : [128, 128, 128];
      const pred: number[] = onOutline ? [...TRUE_OUTLINE_ON_PREDICTION] : onHalo ? [...OUTLINE_HALO] : heat;
      assert.deepEqual(img.at(cx + x, cy + y), ctx, `context panel (${x}, ${y})`);
      assert.deepEqual(img.at(px + x, py + y), pred, `prediction panel (${x}, ${y})`);
      if (onOutline) outlinePx++;
    }
  }
  assert.equal(outlinePx, 48 * 60 - 44 * 56);
});

test('the heatmap follows the predicted probability', async () => {
  const c = 8;
  const context = { width: c, height: c, data: new Uint8Array(c * c * 3) }; // black: heatmap = 0.6 × colour
  const predicted = Float32Array.from({ length: c * c }, (_, i) => (i % c) / (c - 1)); // 0 → 1 left to right
  const png = await renderCorrelationFigure({
    context,
    exemplars: [{ width: 2, height: 2, data: new Uint8Array(12) }],
    trueMasks: [new Uint8Array(c * c)],
    predicted: [predicted],
  });
  const layout = correlationFigureLayout(c, c, 1);
  assert.equal(layout.scale, 24);
  const img = await decode(png);
  const [px, py] = layout.panels(0).prediction;
  for (const col of [0, 3, 7]) {
    const expected = viridis(col / 7).map((v) => Math.round(0.6 * v));
    assert.deepEqual(img.at(px + col * 24 + 12, py + 12), expected);
  }
});

test('viridis endpoints and clamping', () => {
  assert.deepEqual(viridis(0), [68, 1, 84]);
  assert.deepEqual(viridis(1), [253, 231, 37]);
  assert.deepEqual(viridis(0.5), [33, 145, 140]);
  assert.deepEqual(viridis(-3), viridis(0));
  assert.deepEqual(viridis(7), viridis(1));
  assert.deepEqual(viridis(Number.NaN), viridis(0));
});

test('mismatched inputs are rejected with a clear message', async () => {
  const input = exampleFigureInput(16);
  await assert.rejects(renderCorrelationFigure({ ...input, predicted: input.predicted.slice(1) }), /3 exemplars, 3 masks, 2 predictions/);
  await assert.rejects(
    renderCorrelationFigure({ ...input, trueMasks: [new Uint8Array(5), ...input.trueMasks.slice(1)] }),
    /mask\/prediction 0 must have 16×16 = 256 values/,
  );
});
