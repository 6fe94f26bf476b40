/**
 * Preload for profiling child processes (Node 20 refuses --cpu-prof in NODE_OPTIONS):
 * `NODE_OPTIONS="--import <this file>" TPSLAB_CPU_PROF_DIR=DIR` makes every Node process
 * started with that environment sample its CPU (1 ms) and, when it exits normally (a
 * tpslab role's SIGTERM handler exits), write `DIR/<command>-<id>-<pid>.cpuprofile`,
 * which Chrome DevTools and `bench/lib/prof-top.ts` read.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.TPSLAB_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // A session on the main thread answers synchronously, so this runs to the end inside 'exit'.
    session.post('Profiler.stop', (err, r) => {
      if (err) return;
      const args = process.argv.slice(2);
      const idAt = args.indexOf('--id');
      const name = `${args[0] ?? 'node'}-${idAt >= 0 ? args[idAt + 1] : 'main'}-${process.pid}.cpuprofile`;
      writeFileSync(join(dir, name), JSON.stringify(r.profile));
    });
  });
}
