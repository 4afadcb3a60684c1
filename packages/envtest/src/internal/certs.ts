/**
 * The PKI of a throwaway control plane, made with the `openssl` command (node:crypto cannot sign
 * X.509 certificates): a CA, a serving certificate for 127.0.0.1/localhost, an admin client
 * certificate in `system:masters`, and a service-account signing key pair. P-256 keys keep it fast.
 */
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"

/** File paths (all inside one directory) and the PEM texts a client needs. */
export interface Certs {
  readonly caCert: string
  readonly caKey: string
  readonly servingCert: string
  readonly servingKey: string
  readonly adminCert: string
  readonly adminKey: string
  readonly serviceAccountKey: string
  readonly serviceAccountPub: string
  readonly caPem: string
  readonly adminCertPem: string
  readonly adminKeyPem: string
}

/** The admin client's identity: `system:masters` is bound to cluster-admin by the default RBAC policy. */
export const adminUser = "kubefx-envtest-admin"

// An own config file, so the result does not depend on the system's openssl.cnf defaults.
const opensslConfig = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`

const openssl = (cwd: string, args: ReadonlyArray<string>): Effect.Effect<void, Error> =>
  Effect.callback<void, Error>((resume) => {
    execFile("openssl", args, { cwd }, (error, _stdout, stderr) => {
      if (error === null) resume(Effect.void)
      else {
        const reason = (error as NodeJS.ErrnoException).code === "ENOENT"
          ? "the openssl command is not installed (apt-get install openssl)"
          : `${error.message.split("\n")[0]}: ${String(stderr).trim().split("\n").slice(-3).join(" | ")}`
        resume(Effect.fail(new Error(`openssl ${args[0]} failed: ${reason}`)))
      }
    })
  })

const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
const serial = () => `0x${randomBytes(12).toString("hex")}`

const signed = (dir: string, name: string, subject: string, extensions: string) =>
  Effect.gen(function*() {
    yield* openssl(dir, ["req", "-new", "-config", "openssl.cnf", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`,
      "-subj", subject])
    yield* openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", serial(),
      "-days", "7", "-extfile", "openssl.cnf", "-extensions", extensions, "-out", `${name}.crt`])
  })

/** Writes the PKI into `dir` (which must exist). */
export const generate = (dir: string): Effect.Effect<Certs, Error> =>
  Effect.gen(function*() {
    yield* Effect.try({ try: () => fs.writeFileSync(path.join(dir, "openssl.cnf"), opensslConfig), catch: (e) => e as Error })
    yield* openssl(dir, ["req", "-x509", "-config", "openssl.cnf", "-extensions", "ca_ext", ...ec, "-keyout", "ca.key",
      "-out", "ca.crt", "-days", "7", "-set_serial", serial(), "-subj", "/CN=kubefx-envtest-ca"])
    yield* signed(dir, "serving", "/CN=127.0.0.1", "server_ext")
    yield* signed(dir, "admin", `/O=system:masters/CN=${adminUser}`, "client_ext")
    yield* openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key"])
    yield* openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"])
    const file = (name: string) => path.join(dir, name)
    return yield* Effect.try({
      try: () => ({
        caCert: file("ca.crt"),
        caKey: file("ca.key"),
        servingCert: file("serving.crt"),
        servingKey: file("serving.key"),
        adminCert: file("admin.crt"),
        adminKey: file("admin.key"),
        serviceAccountKey: file("sa.key"),
        serviceAccountPub: file("sa.pub"),
        caPem: fs.readFileSync(file("ca.crt"), "utf8"),
        adminCertPem: fs.readFileSync(file("admin.crt"), "utf8"),
        adminKeyPem: fs.readFileSync(file("admin.key"), "utf8")
      }),
      catch: (e) => e as Error
    })
  })
