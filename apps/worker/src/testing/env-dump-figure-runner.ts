/**
 * A stand-in for figure-runner.ts in the figure worker's environment test: it prints the names of
 * the variables it was given (one JSON line, the last line the worker keeps) and exits 3, so the
 * figure is marked failed with that line as its error.
 */
console.log(JSON.stringify(Object.keys(process.env).sort()));
process.exit(3);
