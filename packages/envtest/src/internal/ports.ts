/**
 * Ports for the test control plane. A port is chosen by asking the kernel for a free one and handing its
 * number to etcd or kube-apiserver; between the two another process may bind it. Neither server can be
 * given an open socket, so a start that finds its port taken is tried again with new ports.
 */
import { Effect } from "effect"

/** How many times a start whose port was taken meanwhile is tried. */
export const attempts = 3

/** The line etcd and kube-apiserver log when a port they were given is taken. */
export const isPortClash = (log: string): boolean => /address already in use/.test(log)

/** Runs `start` (attempt 0, 1, ...) again while it fails with an error `retry` accepts, `times` tries in all. */
export const retrying = <A, E, R>(
  start: (attempt: number) => Effect.Effect<A, E, R>,
  retry: (error: E) => boolean,
  times = attempts
): Effect.Effect<A, E, R> => {
  const loop = (attempt: number): Effect.Effect<A, E, R> =>
    start(attempt).pipe(Effect.catchIf((error) => retry(error) && attempt + 1 < times, () => loop(attempt + 1)))
  return loop(0)
}
