export interface RandAugmentConfig {
  /** ops per image */
  n: number;
  /** magnitude 0..10 */
  m: number;
  /** std of the per-op magnitude noise (timm mstd) */
  mstd: number;
}
