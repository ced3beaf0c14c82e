import sharp from 'sharp';
import type { RgbImage } from '@cim-forge/data';
import { drawText, GLYPH_HEIGHT, textWidth } from './bitmap-font.ts';
import { viridis } from './colormap.ts';
import { maskIoU } from './mask-iou.ts';
import { Raster, type Rgb } from './raster.ts';

export interface CorrelationFigureInput {
  /** the context view, C×C (any W×H works) */
  context: RgbImage;
  /** one exemplar per row, any size */
  exemplars: RgbImage[];
  /** per exemplar, [H*W] of the context: 1 where the exemplar was cropped from */
  trueMasks: Uint8Array[];
  /** per exemplar, [H*W] predicted probabilities in [0, 1] */
  predicted: Float32Array[];
  /** nearest-neighbour upscale factor for the context; default makes it at least 192 px */
  scale?: number;
}

/** Where everything goes, in figure pixels; exported so tests can find the panels. */
export interface CorrelationFigureLayout {
  width: number;
  height: number;
  scale: number;
  /** side lengths of one panel (the upscaled context) */
  panelWidth: number;
  panelHeight: number;
  /** true-outline thickness in px, inward from the mask boundary */
  outline: number;
  /** top-left corners of the three panels of row r */
  panels(row: number): { exemplar: [number, number]; context: [number, number]; prediction: [number, number] };
}

export const TRUE_OUTLINE_ON_CONTEXT: Rgb = [0, 255, 0];
export const TRUE_OUTLINE_ON_PREDICTION: Rgb = [255, 255, 255];
/** a 1-px dark line just outside the outline, so it reads on any background */
export const OUTLINE_HALO: Rgb = [0, 0, 0];
/** weight of the heatmap colour over the context */
export const HEATMAP_ALPHA = 0.6;

const MARGIN = 10;
const GAP = 10;
const TEXT_SCALE = 2;
const LINE = GLYPH_HEIGHT * TEXT_SCALE;
const HEADER = LINE + 2 * 6;
const CAPTION = LINE + 2 * 5;
const COLOURBAR = 12;
const BACKGROUND: Rgb = [255, 255, 255];
const INK: Rgb = [20, 20, 20];
const EXEMPLAR_BACKDROP: Rgb = [225, 225, 225];

export function correlationFigureLayout(
  contextWidth: number,
  contextHeight: number,
  rows: number,
  scale?: number,
): CorrelationFigureLayout {
  const s = scale ?? Math.max(1, Math.ceil(192 / Math.max(contextWidth, contextHeight)));
  if (!Number.isInteger(s) || s < 1) throw new RangeError(`renderCorrelationFigure: scale must be a positive integer, got ${s}`);
  const pw = contextWidth * s;
  const ph = contextHeight * s;
  const rowHeight = ph + CAPTION;
  return {
    width: 2 * MARGIN + 3 * pw + 2 * GAP,
    height: MARGIN + HEADER + rows * rowHeight + LINE + COLOURBAR + 2 * 4 + MARGIN,
    scale: s,
    panelWidth: pw,
    panelHeight: ph,
    outline: Math.max(1, Math.round(s / 3)),
    panels(row: number) {
      const y = MARGIN + HEADER + row * rowHeight;
      return {
        exemplar: [MARGIN, y],
        context: [MARGIN + pw + GAP, y],
        prediction: [MARGIN + 2 * (pw + GAP), y],
      };
    },
  };
}

/**
 * A PNG showing what the correlation decoder predicts: one row per exemplar with
 *   [exemplar, upscaled] [context + true region outlined in green] [predicted probability as a
 *   viridis heatmap over the context + true outline in white, IoU@0.5 below]
 * (outlines have a 1-px black halo outside the region)
 * and a 0..1 colour bar under the prediction column. All upscaling is nearest-neighbour (no invented detail).
 */
export async function renderCorrelationFigure(input: CorrelationFigureInput): Promise<Buffer> {
  const { context, exemplars, trueMasks, predicted } = input;
  const { width: cw, height: ch } = context;
  checkImage('context', context);
  if (exemplars.length === 0) throw new Error('renderCorrelationFigure: no exemplars');
  if (trueMasks.length !== exemplars.length || predicted.length !== exemplars.length) {
    throw new Error(`renderCorrelationFigure: ${exemplars.length} exemplars, ${trueMasks.length} masks, ${predicted.length} predictions`);
  }
  exemplars.forEach((e, t) => checkImage(`exemplar ${t}`, e));
  for (let t = 0; t < exemplars.length; t++) {
    if (trueMasks[t].length !== cw * ch || predicted[t].length !== cw * ch) {
      throw new Error(`renderCorrelationFigure: mask/prediction ${t} must have ${cw}×${ch} = ${cw * ch} values`);
    }
  }
  const layout = correlationFigureLayout(cw, ch, exemplars.length, input.scale);
  const { scale: s, panelWidth: pw, panelHeight: ph } = layout;
  const fig = new Raster(layout.width, layout.height, BACKGROUND);

  const titles = ['EXEMPLAR', 'CONTEXT + TRUE', 'PREDICTION'];
  const p0 = layout.panels(0);
  [p0.exemplar, p0.context, p0.prediction].forEach(([x], i) => {
    drawText(fig, x + Math.max(0, (pw - textWidth(titles[i], TEXT_SCALE)) >> 1), MARGIN + 6, titles[i], INK, TEXT_SCALE);
  });

  for (let t = 0; t < exemplars.length; t++) {
    const { exemplar, context: cxy, prediction } = layout.panels(t);
    drawExemplar(fig, exemplars[t], exemplar[0], exemplar[1], pw, ph);
    const mask = trueMasks[t];
    const prob = predicted[t];
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const i = Math.floor(y / s) * cw + Math.floor(x / s);
        const c: Rgb = [context.data[i * 3], context.data[i * 3 + 1], context.data[i * 3 + 2]];
        fig.setPixel(cxy[0] + x, cxy[1] + y, c);
        const h = viridis(prob[i]);
        fig.setPixel(prediction[0] + x, prediction[1] + y, [
          Math.round((1 - HEATMAP_ALPHA) * c[0] + HEATMAP_ALPHA * h[0]),
          Math.round((1 - HEATMAP_ALPHA) * c[1] + HEATMAP_ALPHA * h[1]),
          Math.round((1 - HEATMAP_ALPHA) * c[2] + HEATMAP_ALPHA * h[2]),
        ]);
      }
    }
    forEachHaloPixel(mask, cw, ch, s, (x, y) => {
      fig.setPixel(cxy[0] + x, cxy[1] + y, OUTLINE_HALO);
      fig.setPixel(prediction[0] + x, prediction[1] + y, OUTLINE_HALO);
    });
    forEachOutlinePixel(mask, cw, ch, s, layout.outline, (x, y) => {
      fig.setPixel(cxy[0] + x, cxy[1] + y, TRUE_OUTLINE_ON_CONTEXT);
      fig.setPixel(prediction[0] + x, prediction[1] + y, TRUE_OUTLINE_ON_PREDICTION);
    });
    const captionY = exemplar[1] + ph + 5;
    drawText(fig, exemplar[0], captionY, `#${t + 1}  ${exemplars[t].width}X${exemplars[t].height}`, INK, TEXT_SCALE);
    const iou = `IOU ${maskIoU(prob, mask).toFixed(2)}`;
    drawText(fig, prediction[0], captionY, iou, INK, TEXT_SCALE);
  }

  // colour bar under the prediction column: 0 on the left, 1 on the right
  const [barX] = p0.prediction;
  const barY = layout.height - MARGIN - COLOURBAR - LINE - 4;
  for (let x = 0; x < pw; x++) fig.fillRect(barX + x, barY, 1, COLOURBAR, viridis(x / Math.max(1, pw - 1)));
  drawText(fig, barX, barY + COLOURBAR + 4, '0', INK, TEXT_SCALE);
  drawText(fig, barX + pw - textWidth('1', TEXT_SCALE), barY + COLOURBAR + 4, '1', INK, TEXT_SCALE);
  const label = 'P(FROM EXEMPLAR)';
  drawText(fig, barX - GAP - textWidth(label, TEXT_SCALE), barY, label, INK, TEXT_SCALE);

  return sharp(fig.data, { raw: { width: fig.width, height: fig.height, channels: 3 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

function checkImage(what: string, img: RgbImage): void {
  if (img.data.length !== img.width * img.height * 3) {
    throw new Error(`renderCorrelationFigure: ${what} is ${img.width}×${img.height} but has ${img.data.length} bytes`);
  }
}

/** The exemplar scaled (nearest) to fit the panel, centred on a grey backdrop. */
function drawExemplar(fig: Raster, img: RgbImage, x0: number, y0: number, pw: number, ph: number): void {
  fig.fillRect(x0, y0, pw, ph, EXEMPLAR_BACKDROP);
  const k = Math.min(pw / img.width, ph / img.height);
  const w = Math.max(1, Math.floor(img.width * k));
  const h = Math.max(1, Math.floor(img.height * k));
  const ox = x0 + ((pw - w) >> 1);
  const oy = y0 + ((ph - h) >> 1);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(img.height - 1, Math.floor(y / k));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(img.width - 1, Math.floor(x / k));
      const o = (sy * img.width + sx) * 3;
      fig.setPixel(ox + x, oy + y, [img.data[o], img.data[o + 1], img.data[o + 2]]);
    }
  }
}

/** Whether pixel (x, y) of the mask upscaled s× (a w×h mask, nearest neighbour) is inside it. */
function insideUpscaled(mask: Uint8Array, w: number, h: number, s: number): (x: number, y: number) => boolean {
  const W = w * s;
  const H = h * s;
  return (x, y) => x >= 0 && y >= 0 && x < W && y < H && mask[Math.floor(y / s) * w + Math.floor(x / s)] !== 0;
}

/**
 * Visits the pixels of the mask upscaled by `s` that lie inside it and within `thickness` px
 * (along a row or column) of its boundary, the image border counting as outside.
 */
export function forEachOutlinePixel(
  mask: Uint8Array,
  w: number,
  h: number,
  s: number,
  thickness: number,
  visit: (x: number, y: number) => void,
): void {
  const W = w * s;
  const H = h * s;
  const inside = insideUpscaled(mask, w, h, s);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (!inside(x, y)) continue;
      for (let d = 1; d <= thickness; d++) {
        if (!inside(x - d, y) || !inside(x + d, y) || !inside(x, y - d) || !inside(x, y + d)) {
          visit(x, y);
          break;
        }
      }
    }
  }
}

/** Visits the pixels of the upscaled panel just outside the mask: 4-neighbours of an inside pixel. */
export function forEachHaloPixel(mask: Uint8Array, w: number, h: number, s: number, visit: (x: number, y: number) => void): void {
  const W = w * s;
  const H = h * s;
  const inside = insideUpscaled(mask, w, h, s);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (inside(x, y)) continue;
      if (inside(x - 1, y) || inside(x + 1, y) || inside(x, y - 1) || inside(x, y + 1)) visit(x, y);
    }
  }
}
