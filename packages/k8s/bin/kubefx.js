#!/usr/bin/env node
// The published `kubefx` command: runs the compiled CLI under the user's Node (>= 22.19).
// In this repository, run the source directly instead:
//   node --conditions=@kubefx/source packages/k8s/src/bin/kubefx.ts manifests <module>
import "../dist/bin/kubefx.js"
