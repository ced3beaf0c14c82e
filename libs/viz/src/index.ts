export {
  correlationFigureLayout,
  forEachHaloPixel,
  forEachOutlinePixel,
  HEATMAP_ALPHA,
  OUTLINE_HALO,
  renderCorrelationFigure,
  TRUE_OUTLINE_ON_CONTEXT,
  TRUE_OUTLINE_ON_PREDICTION,
  type CorrelationFigureInput,
  type CorrelationFigureLayout,
} from './correlation-figure.ts';
export { maskIoU } from './mask-iou.ts';
export { viridis } from './colormap.ts';
export { drawText, textWidth } from './bitmap-font.ts';
export { Raster, type Rgb } from './raster.ts';
