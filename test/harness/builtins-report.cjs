// Preload (`node -r`): at exit, prints the built-in modules the process loaded, for start-up cost tests.
'use strict';
process.on('exit', () => {
  const names = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  process.stderr.write(`loaded-builtins: ${names.join(',')}\n`);
});
