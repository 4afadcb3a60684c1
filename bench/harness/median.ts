/**
 * Which of several runs of one case a report shows.
 *
 * @since 0.1.0
 */

/**
 * The run with the median `by` (the lower middle one of an even count): a real run, never an average of runs.
 *
 * @since 0.1.0
 * @category statistics
 */
export const medianBy = <A>(runs: ReadonlyArray<A>, by: (a: A) => number): A => {
  const sorted = [...runs].sort((a, b) => by(a) - by(b))
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}
