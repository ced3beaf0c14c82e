import { presets } from '@cim-forge/config';

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--json')) {
    console.log(JSON.stringify(presets, null, 2));
    return 0;
  }
  console.log('Named configs (use with: npm run cim -- pretrain --preset NAME):\n');
  for (const [name, p] of Object.entries(presets)) console.log(`  ${name.padEnd(18)} ${p.description}`);
  console.log('\n--json prints their fields.');
  return 0;
}
