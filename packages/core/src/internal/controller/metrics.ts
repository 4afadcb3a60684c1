/** The engine's own metrics, exported by `Health`'s `/metrics` with everything else in Effect's registry. */
import { Metric } from "effect"

export const reconcileTotal = Metric.counter("kubefx_reconcile_total", { description: "Reconciles by operator and result", incremental: true })

export const reconcileSeconds = Metric.histogram("kubefx_reconcile_duration_seconds", {
  description: "Time to reconcile one parent",
  boundaries: Metric.exponentialBoundaries({ start: 0.001, factor: 2, count: 16 })
})

export const writeTotal = Metric.counter("kubefx_write_total", { description: "Writes by operator and kind (create, apply, replace, delete, status, finalizer)", incremental: true })
