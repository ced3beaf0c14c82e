/** Robustness evaluation (issue 7, part 3): FGSM / PGD attacks, common corruptions, mCE, one report. */
export * from './attacks.ts';
export * from './corruptions.ts';
export * from './evaluate-robustness.ts';
export { loadClassifierFile, loadImageClassifierFile } from './load-classifier.ts';
