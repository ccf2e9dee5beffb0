/** Types of bench/fleet.mjs for the bounded test (test/e2e/fleet-sim.test.ts). */
export interface FleetResult {
  readonly n: number;
  readonly peakOverMean: number;
  readonly mean: number;
  readonly t50: number | undefined;
  readonly t99: number | undefined;
  readonly pulled: number;
  readonly throttled: number;
  readonly originCounted: number;
}
export function simulate(options?: { n?: number; limit?: number; windowS?: number; periodMs?: number; splayMs?: number; days?: number; mirror?: boolean; steps?: number[]; stepEveryMs?: number; reservePercent?: number }): FleetResult;
