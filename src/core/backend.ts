/**
 * The compute-backend layer. Everything numeric in nino goes through tfjs, and this module picks the
 * tfjs backend once at start:
 *   auto        the first that works of tensorflow, webgpu (see AUTO_WEBGPU), wasm, cpu; the choice and
 *               why is logged at info, each backend passed over (with its full error) at debug
 *   tensorflow  @tensorflow/tfjs-node-gpu only (libtensorflow, CUDA where present; fails if it cannot load)
 *   webgpu      @tensorflow/tfjs-backend-webgpu on Dawn's Node binding (the `webgpu` npm package): a GPU
 *               from npm alone. Both packages are optional and user-installed; fails with what is missing
 *               (a package, libvulkan, a driver) and how to get it
 *   wasm        @tensorflow/tfjs-backend-wasm plus nino's own kernels (src/core/kernels/)
 *   cpu         pure-JS reference backend (slow; used to check the wasm and webgpu kernels)
 * Chosen by `--backend` or NINO_BACKEND.
 *
 * WebGPU in Node reads GPU data asynchronously only (`await t.data()`): dawn.node has no blocking buffer
 * map, and tfjs-backend-webgpu's `dataSync` goes through OffscreenCanvas, which Node lacks. On webgpu a
 * `dataSync()` of GPU-resident data therefore throws WEBGPU_SYNC_READ_ERROR (one line saying so), and
 * `auto` does not pick webgpu while nino's library still reads synchronously (AUTO_WEBGPU).
 *
 * Detection is injectable (`probeWebgpu(env)`, `initBackend(.., .., { probes })`) so every branch is
 * tested without a GPU (test/backend.test.ts).
 *
 *   const { name, reason } = await initBackend('auto', logger);
 *   const w = await probeWebgpu();   // { ok: true, adapter, activate } | { ok: false, missing, why, detail }
 */
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from './logger.ts';
import { silentLogger } from './logger.ts';
import { registerNinoWasmKernels } from './kernels/register.ts';

export const BACKENDS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type ConcreteBackend = Exclude<BackendName, 'auto'>;

/**
 * Whether `auto` tries webgpu (between tensorflow and wasm). Off while nino's training, evaluation and
 * nowcasting read tensors with dataSync, which webgpu cannot do in Node: picking it would fail at the
 * first step. `--backend webgpu` works regardless (for code that reads with `await data()`).
 */
export const AUTO_WEBGPU = false;

export const WEBGPU_INSTALL = 'npm install webgpu @tensorflow/tfjs-backend-webgpu@4.22.0';
export const WEBGPU_SYNC_READ_ERROR =
  'webgpu backend: a synchronous read (dataSync/arraySync) of GPU data is impossible in Node (dawn.node has no blocking map); this code path needs `await tensor.data()`: use --backend wasm for it';

/** Why a backend is not available: `why` is short (the info line in auto), `detail` says what to do. */
export interface Unavailable {
  why: string;
  detail: string;
}
/** Makes the backend the active tfjs backend, or says why it cannot. */
export type BackendProbe = () => Promise<Unavailable | null>;

let active: { name: ConcreteBackend; reason: string } | null = null;

export function parseBackendName(s: string | undefined): BackendName {
  const v = (s ?? 'auto').toLowerCase();
  if (!(BACKENDS as readonly string[]).includes(v)) {
    throw new Error(`unknown backend '${s}'; choose one of: ${BACKENDS.join(', ')}`);
  }
  return v as BackendName;
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0];
const isNotFound = (e: unknown) =>
  /ERR_MODULE_NOT_FOUND|MODULE_NOT_FOUND|Cannot find (package|module)/.test(
    `${(e as { code?: string })?.code} ${firstLine(e)}`,
  );

async function tryTensorflow(): Promise<Unavailable | null> {
  try {
    // Optional dependency: its install downloads libtensorflow, impossible offline. Its documented
    // contract: importing it registers the 'tensorflow' backend (CUDA when available).
    const modName = '@tensorflow/tfjs-node-gpu';
    await import(modName);
    const ok = await tf.setBackend('tensorflow');
    return ok
      ? null
      : { why: 'failed to initialise', detail: 'tfjs-node-gpu loaded but the tensorflow backend failed to initialise' };
  } catch (e) {
    if (isNotFound(e))
      return {
        why: 'not installed',
        detail: `tfjs-node-gpu not available (${firstLine(e)}); it installs only where libtensorflow can be supplied (npm install @tensorflow/tfjs-node-gpu@4.22.0 with TFJS_NODE_BASE_URI); otherwise use --backend webgpu or wasm`,
      };
    return {
      why: 'failed to load',
      detail: `tfjs-node-gpu failed to load (${firstLine(e)}); it needs libtensorflow in its deps/ (TFJS_NODE_BASE_URI)`,
    };
  }
}

async function tryWasm(): Promise<Unavailable | null> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dir = require.resolve('@tensorflow/tfjs-backend-wasm/package.json').replace(/package\.json$/, 'dist/');
    wasm.setWasmPaths(dir);
    registerNinoWasmKernels();
    const ok = await tf.setBackend('wasm');
    return ok ? null : { why: 'failed to initialise', detail: 'wasm backend failed to initialise' };
  } catch (e) {
    return { why: 'not available', detail: `wasm backend not available (${firstLine(e)})` };
  }
}

async function tryCpu(): Promise<Unavailable | null> {
  return (await tf.setBackend('cpu')) ? null : { why: 'failed', detail: 'cpu backend failed' };
}

// ---------------------------------------------------------------- webgpu detection

/** What probeWebgpu looks at; the default reads this machine, tests pass their own. */
export interface WebgpuEnv {
  /** dynamic import of an optional package by name (throws like import() when absent) */
  importModule(name: string): Promise<unknown>;
  /** installed version of a package, null when absent */
  packageVersion(name: string): string | null;
  platform: NodeJS.Platform;
  /** path of the Vulkan loader (libvulkan.so.1), null when none is found (Linux only) */
  findVulkanLoader(): string | null;
  /** Vulkan driver manifests (ICD .json files) found */
  vulkanDrivers(): string[];
  /** options for webgpu's create() (Dawn toggles; ['backend=null'] gives a do-nothing adapter for plumbing tests) */
  dawnOptions: string[];
}

export type WebgpuProbe =
  | { ok: true; adapter: string; activate(): Promise<void> }
  | { ok: false; missing: 'package' | 'libvulkan' | 'adapter'; why: string; detail: string };

const LIB_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
  '/usr/local/lib',
];
const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

function findVulkanLoader(): string | null {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  for (const d of dirs) if (existsSync(join(d, 'libvulkan.so.1'))) return join(d, 'libvulkan.so.1');
  try {
    const m = /libvulkan\.so\.1 .*=> (\S+)/.exec(
      execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

function vulkanDrivers(): string[] {
  const out: string[] = [];
  for (const v of [process.env.VK_DRIVER_FILES, process.env.VK_ICD_FILENAMES])
    if (v) out.push(...v.split(':').filter(Boolean));
  for (const d of ICD_DIRS) {
    try {
      out.push(
        ...readdirSync(d)
          .filter((f) => f.endsWith('.json'))
          .map((f) => join(d, f)),
      );
    } catch {
      // no such directory
    }
  }
  return out;
}

export const defaultWebgpuEnv: WebgpuEnv = {
  importModule: (name) => import(name),
  packageVersion(name) {
    try {
      const require = createRequire(import.meta.url);
      return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version ?? null;
    } catch {
      return null;
    }
  },
  platform: process.platform,
  findVulkanLoader,
  vulkanDrivers,
  dawnOptions: [],
};

interface GpuAdapterLike {
  info?: Record<string, string>;
  features: { has(f: string): boolean };
  limits: Record<string, number>;
  requestDevice(d?: object): Promise<GpuDeviceLike>;
}
interface GpuDeviceLike {
  destroy(): void;
}
interface WebgpuModule {
  create(options: string[]): { requestAdapter(o?: object): Promise<GpuAdapterLike | null> };
  globals: object;
}
type BackendCtor = new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend;

/**
 * Is the webgpu backend usable here? Checks, in order: both npm packages (and that the backend's
 * version matches tfjs-core's), the Vulkan loader (Linux), an adapter from Dawn. Never throws.
 */
export async function probeWebgpu(env: WebgpuEnv = defaultWebgpuEnv): Promise<WebgpuProbe> {
  const pkg = (why: string, detail: string): WebgpuProbe => ({ ok: false, missing: 'package', why, detail });
  const want = tf.version_core;
  let backendMod: { WebGPUBackend: BackendCtor };
  try {
    backendMod = (await env.importModule('@tensorflow/tfjs-backend-webgpu')) as typeof backendMod;
  } catch (e) {
    const absent = isNotFound(e);
    return pkg(
      absent ? '@tensorflow/tfjs-backend-webgpu not installed' : '@tensorflow/tfjs-backend-webgpu failed to load',
      `webgpu backend: @tensorflow/tfjs-backend-webgpu ${absent ? 'is not installed' : `failed to load (${firstLine(e)})`}; install it with the Dawn binding: ${WEBGPU_INSTALL}`,
    );
  }
  const have = env.packageVersion('@tensorflow/tfjs-backend-webgpu');
  if (have !== want) {
    return pkg(
      'version mismatch',
      `webgpu backend: @tensorflow/tfjs-backend-webgpu is ${have ?? 'of unknown version'} but @tensorflow/tfjs-core is ${want}; run npm install @tensorflow/tfjs-backend-webgpu@${want}`,
    );
  }
  let dawn: WebgpuModule;
  try {
    dawn = (await env.importModule('webgpu')) as WebgpuModule;
  } catch (e) {
    const absent = isNotFound(e);
    return pkg(
      absent ? "'webgpu' not installed" : "'webgpu' failed to load",
      `webgpu backend: the 'webgpu' package (Dawn's Node binding, ~130 MB) ${absent ? 'is not installed' : `failed to load (${firstLine(e)})`}; run ${WEBGPU_INSTALL}`,
    );
  }
  const drivers = env.platform === 'linux' ? env.vulkanDrivers() : [];
  if (env.platform === 'linux' && !env.dawnOptions.includes('backend=null')) {
    // Dawn prints its own warning when libvulkan is absent: look first, and do not start Dawn for nothing.
    if (!env.findVulkanLoader()) {
      return {
        ok: false,
        missing: 'libvulkan',
        why: 'no libvulkan',
        detail:
          'webgpu backend: the Vulkan loader libvulkan.so.1 is not installed; run apt-get install libvulkan1 (Debian/Ubuntu; dnf install vulkan-loader on Fedora), plus a Vulkan driver for the GPU (the NVIDIA driver ships one; AMD/Intel: apt-get install mesa-vulkan-drivers)',
      };
    }
  }
  let adapter: GpuAdapterLike | null;
  let gpu: ReturnType<WebgpuModule['create']>;
  try {
    Object.assign(globalThis, dawn.globals);
    gpu = dawn.create(env.dawnOptions);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return {
      ok: false,
      missing: 'adapter',
      why: 'no adapter',
      detail: `webgpu backend: Dawn failed to look for an adapter (${firstLine(e)})`,
    };
  }
  if (!adapter) {
    let detail: string;
    if (env.platform !== 'linux')
      detail = `webgpu backend: Dawn found no GPU adapter (${env.platform === 'darwin' ? 'Metal' : 'D3D12/Vulkan'}); a GPU and its driver are needed`;
    else if (drivers.length === 0)
      detail =
        'webgpu backend: libvulkan1 is installed but there is no Vulkan driver (no ICD in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d); install the GPU driver (NVIDIA: the proprietary driver with its Vulkan ICD; AMD/Intel: apt-get install mesa-vulkan-drivers)';
    else
      detail = `webgpu backend: the Vulkan drivers here (${drivers.map((d) => d.split('/').pop()).join(', ')}) offer no adapter Dawn accepts (Mesa's lavapipe software driver lacks features Dawn requires); a GPU with its vendor's Vulkan driver is needed`;
    return { ok: false, missing: 'adapter', why: 'no adapter', detail };
  }
  const info = adapter.info ?? {};
  const name =
    [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
  const a = adapter;
  return {
    ok: true,
    adapter: name,
    async activate() {
      // the same device request as tfjs-backend-webgpu's own registration (base.ts), on our adapter
      const requiredFeatures = ['timestamp-query'].filter((f) => a.features.has(f));
      const l = a.limits;
      const device = await a.requestDevice({
        requiredFeatures,
        requiredLimits: {
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        },
      });
      // WebGPUBackend checks navigator.gpu (Node 20 has no navigator)
      const g = globalThis as { navigator?: { gpu?: unknown } };
      if (!g.navigator)
        Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
      if (!g.navigator!.gpu)
        Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
      const Base = backendMod.WebGPUBackend;
      class NodeWebGPUBackend extends Base {
        override readSync(dataId: object): tf.backend_util.BackendValues {
          const d = (
            this as unknown as { tensorMap: { get(id: object): { values: unknown; dtype: string } } }
          ).tensorMap.get(dataId);
          if (d.values == null && d.dtype !== 'string' && d.dtype !== 'complex64')
            throw new Error(WEBGPU_SYNC_READ_ERROR);
          return super.readSync(dataId);
        }
      }
      if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
      tf.registerBackend('webgpu', () => new NodeWebGPUBackend(device, a.info));
    },
  };
}

async function tryWebgpu(probe: () => Promise<WebgpuProbe>): Promise<Unavailable | null> {
  const p = await probe();
  if (!p.ok) return { why: p.why, detail: p.detail };
  try {
    await p.activate();
    if (!(await tf.setBackend('webgpu')))
      return {
        why: 'failed to initialise',
        detail: `webgpu backend: adapter ${p.adapter} found but the backend failed to initialise`,
      };
    return null;
  } catch (e) {
    return {
      why: 'device failed',
      detail: `webgpu backend: adapter ${p.adapter} found but requesting a device failed (${firstLine(e)})`,
    };
  }
}

// ---------------------------------------------------------------- selection

export interface InitOptions {
  /** replace how a backend is tried (tests) */
  probes?: Partial<Record<ConcreteBackend, BackendProbe>>;
  /** replace webgpu detection (tests; default probeWebgpu()) */
  webgpuProbe?: () => Promise<WebgpuProbe>;
  /** whether auto tries webgpu (default AUTO_WEBGPU) */
  autoWebgpu?: boolean;
}

/** Forgets the chosen backend, so that the next initBackend chooses again (tests). */
export function resetBackendChoice(): void {
  active = null;
}

/** Initialises the chosen backend once per process (idempotent). */
export async function initBackend(
  requested: BackendName | string = 'auto',
  logger: Logger = silentLogger,
  opts: InitOptions = {},
): Promise<{ name: ConcreteBackend; reason: string }> {
  const want = parseBackendName(requested);
  if (active && (want === 'auto' || want === active.name)) return active;
  const autoWebgpu = opts.autoWebgpu ?? AUTO_WEBGPU;
  const probes: Record<ConcreteBackend, BackendProbe> = {
    tensorflow: tryTensorflow,
    webgpu: () => tryWebgpu(opts.webgpuProbe ?? (() => probeWebgpu())),
    wasm: tryWasm,
    cpu: tryCpu,
    ...opts.probes,
  };
  const order: ConcreteBackend[] = want === 'auto' ? ['tensorflow', 'webgpu', 'wasm', 'cpu'] : [want];
  const passed: string[] = [];
  for (const b of order) {
    let err: Unavailable | null;
    if (want === 'auto' && b === 'webgpu' && !autoWebgpu) {
      err = {
        why: 'not tried',
        detail:
          'auto does not try webgpu: nino still reads tensors synchronously (dataSync), which webgpu cannot do in Node; --backend webgpu selects it explicitly',
      };
    } else {
      err = await probes[b]();
    }
    if (err === null) {
      const reason =
        want === 'auto' ? (passed.length ? `auto: ${passed.join('; ')}` : 'auto: first choice') : 'requested';
      await tf.ready();
      active = { name: b, reason };
      logger.info({ backend: b, reason }, `compute backend: ${b}`);
      return active;
    }
    if (want !== 'auto') throw new Error(err.detail);
    logger.debug({ backend: b, why: err.why, detail: err.detail }, `compute backend ${b} passed over: ${err.detail}`);
    passed.push(`${b}: ${err.why}`);
  }
  throw new Error(`could not initialise any backend: ${passed.join('; ')}`);
}

export function activeBackend(): string {
  return tf.getBackend();
}
