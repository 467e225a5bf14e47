// Worker-thread entry when nino runs from its TypeScript sources (tests, tsx scripts): installs tsx's
// loader in this thread, then runs the job runner. The compiled package does not use this file: its
// workers start dist/core/worker-run.js directly (see workers.ts), so tsx is a development tool only.
import { register } from 'tsx/esm/api';
register();
await import(new URL('./worker-run.ts', import.meta.url).href);
