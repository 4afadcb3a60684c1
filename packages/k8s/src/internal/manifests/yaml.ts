/**
 * Multi-document YAML for `kubectl apply -f`.
 *
 * @internal
 */
import { dump } from "js-yaml"

/**
 * js-yaml's default dump schema already quotes every string that YAML 1.1 (kubectl's go-yaml) or YAML 1.2
 * would read as another type (`yes`, `on`, `0755`, `1e3`, `12:30`, `2024-01-01`); the tests hold it to that.
 */
const YAML_OPTIONS = { noRefs: true, lineWidth: -1 }

/** Objects as one multi-document YAML stream (see `Manifests.toYaml`). */
export const render = (objects: ReadonlyArray<object>): string =>
  objects.map((o) => `---\n${dump(JSON.parse(JSON.stringify(o)), YAML_OPTIONS)}`).join("")
