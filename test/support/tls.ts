import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface ThrowawayPki {
  /** The CA's certificate (PEM file): what clients trust instead of a public CA. */
  caFile: string;
  caPem: string;
  /** PKCS12 keystore with the broker's key and its certificate, signed by the CA, for 127.0.0.1 and localhost. */
  keystore: string;
  password: string;
}

const run = (command: string, args: string[], cwd: string) => execFileSync(command, args, { cwd, stdio: "pipe" });

/**
 * A CA and a broker certificate made for one test (valid 2 days) with openssl and the JDK's keytool, the
 * way a Kafka operator makes a keystore: key pair in a PKCS12 store, a CSR, signed by the CA, the chain
 * imported back.
 */
export function makeThrowawayPki(dir: string): ThrowawayPki {
  const password = randomBytes(12).toString("hex");
  const san = "SAN=ip:127.0.0.1,dns:localhost";
  run(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=txlog throwaway test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  const store = ["-keystore", "broker.p12", "-storetype", "PKCS12", "-storepass", password];
  run(
    "keytool",
    [
      "-genkeypair",
      ...store,
      "-keypass",
      password,
      "-alias",
      "broker",
      "-keyalg",
      "RSA",
      "-keysize",
      "2048",
      "-validity",
      "2",
      "-dname",
      "CN=localhost",
      "-ext",
      san,
    ],
    dir,
  );
  run("keytool", ["-certreq", ...store, "-alias", "broker", "-file", "broker.csr", "-ext", san], dir);
  run(
    "openssl",
    [
      "x509",
      "-req",
      "-in",
      "broker.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "broker.crt",
      "-days",
      "2",
      "-copy_extensions",
      "copy",
    ],
    dir,
  );
  run("keytool", ["-importcert", ...store, "-alias", "ca", "-file", "ca.crt", "-noprompt"], dir);
  run("keytool", ["-importcert", ...store, "-alias", "broker", "-file", "broker.crt", "-noprompt"], dir);
  const caFile = join(dir, "ca.crt");
  return { caFile, caPem: readFileSync(caFile, "utf8"), keystore: join(dir, "broker.p12"), password };
}
