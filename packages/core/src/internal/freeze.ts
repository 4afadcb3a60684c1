/**
 * Deep freezing for objects the engine shares: what enters the store is handed to every later reconcile
 * and to handlers, so nobody may change it in place (a handler that mutated its snapshot would otherwise
 * corrupt the cache for every reconcile after it).
 */
export const deepFreeze = <A>(value: A): A => {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value
  Object.freeze(value)
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  return value
}
