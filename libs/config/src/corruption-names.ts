/** The corruptions an eval run may apply (mirrors libs/engine's list). */
export const CORRUPTION_NAMES = ['gaussian_noise', 'shot_noise', 'gaussian_blur', 'contrast', 'brightness', 'jpeg', 'pixelate'] as const;
