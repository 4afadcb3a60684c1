/**
 * The Kubernetes name rules the manifests check before emitting a name: DNS labels and subdomains.
 *
 * @internal
 */
import { Invalid } from "./invalid.ts"

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

export const checkLabel = (value: string, path: string, what: string) => {
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    throw new Invalid(path, `${what} ${JSON.stringify(value)} must be a lower-case DNS label (a-z, 0-9, '-'; at most 63)`)
  }
}

export const checkSubdomain = (value: string, path: string, what: string) => {
  if (value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    throw new Invalid(path, `${what} ${JSON.stringify(value)} must be a lower-case DNS subdomain`)
  }
}
