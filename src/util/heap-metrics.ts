// The V8 heap left in use after each major garbage collection. The resident size of a Node.js
// process keeps creeping up for a while as V8 grows its heap and the allocator keeps freed pages,
// so a rising resident size alone does not tell a leak; a rising heap after major collections
// does.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { Gauge, type Registry } from 'prom-client';

export const HEAP_AFTER_GC_METRIC = 'podnet_heap_used_after_major_gc_bytes';
/** prom-client's default metric of the same name, for a process that serves no defaults. */
export const HEAP_SPACE_SIZE_METRIC = 'nodejs_heap_space_size_total_bytes';

/** Registers the gauge and keeps it current; the returned function stops observing. */
export function registerHeapAfterGc(registry: Registry): () => void {
  const gauge = new Gauge({
    name: HEAP_AFTER_GC_METRIC,
    help: 'V8 heap in use just after the last major garbage collection',
    registers: [registry],
  });
  const observer = new PerformanceObserver((list) => {
    const major = list
      .getEntries()
      .some(
        (e) =>
          (e as unknown as { detail?: { kind?: number } }).detail?.kind ===
          constants.NODE_PERFORMANCE_GC_MAJOR,
      );
    if (major) gauge.set(process.memoryUsage().heapUsed);
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}

/**
 * The memory V8 has committed to each heap space, read when scraped, named as prom-client's
 * default metrics name it (`new`, `old`, ...): for a process that does not collect those, so a
 * resident size that grows with the old space is seen to be garbage not yet collected.
 */
export function registerHeapSpaces(registry: Registry): void {
  new Gauge({
    name: HEAP_SPACE_SIZE_METRIC,
    help: 'Memory V8 has committed to each heap space',
    labelNames: ['space'],
    registers: [registry],
    collect() {
      for (const s of getHeapSpaceStatistics())
        this.set({ space: s.space_name.replace(/_space$/, '') }, s.space_size);
    },
  });
}
