import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One GetSecretValue request the stand-in answered. */
export interface SecretRequest {
  target: string;
  secretId: string;
  /** The SigV4 Authorization header: the caller signed with its credentials for this region and service. */
  authorization: string;
}

/** What the stand-in answers for a secret: its SecretString, or an AWS error (__type) with HTTP 400. */
export type SecretAnswer = { secretString: string } | { error: string };

/**
 * A local stand-in for AWS Secrets Manager's GetSecretValue (JSON 1.1 protocol over HTTP, as the SDK speaks it),
 * for the AWS SDK pointed at it with AWS_ENDPOINT_URL_SECRETS_MANAGER. Secrets Manager is the one AWS service the
 * functions call themselves; Kafka and PostgreSQL stay real.
 */
export class FakeSecretsManager {
  readonly requests: SecretRequest[] = [];
  /** Answers by secret ARN; a function is asked again at each request (a rotation, a transient failure). */
  readonly answers = new Map<string, SecretAnswer | (() => SecretAnswer)>();
  /** Delay before each answer, so that concurrent first calls overlap. */
  delayMs = 50;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const { SecretId: secretId = "" } = JSON.parse(Buffer.concat(chunks).toString() || "{}") as { SecretId?: string };
        const target = String(request.headers["x-amz-target"] ?? "");
        this.requests.push({ target, secretId, authorization: String(request.headers.authorization ?? "") });
        const configured = this.answers.get(secretId);
        const answer = typeof configured === "function" ? configured() : configured;
        setTimeout(() => {
          const reply = (status: number, body: unknown) => {
            response.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
            response.end(JSON.stringify(body));
          };
          if (target !== "secretsmanager.GetSecretValue") reply(400, { __type: "UnknownOperationException" });
          else if (answer === undefined) {
            reply(400, { __type: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." });
          } else if ("error" in answer) reply(400, { __type: answer.error, message: `${answer.error} (stand-in)` });
          else {
            const name = secretId.split(":").at(-1);
            reply(200, { ARN: secretId, Name: name, SecretString: answer.secretString, VersionId: "v1", CreatedDate: 1.7e9 });
          }
        }, this.delayMs);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
