/**
 * Ctrl-C / SIGTERM for a training command: the first asks the loop to checkpoint at the next step
 * boundary and stop; the second aborts with exit code 130.
 */
export function stopOnSignals(): { requested: () => boolean; dispose: () => void } {
  let count = 0;
  const on = () => {
    count++;
    if (count === 1) process.stderr.write('\nCtrl-C: checkpointing at the next step boundary (again to abort)\n');
    else process.exit(130);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    requested: () => count > 0,
    dispose: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}
