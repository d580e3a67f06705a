// KafkaJS's internal modules have no types; lib/kafka/kafkajs-request-queue-fix.ts describes what it uses.
declare module "kafkajs/src/network/requestQueue/index.js" {
  const RequestQueue: new (...args: never[]) => object;
  export default RequestQueue;
}

// KafkaJS's own SCRAM authenticators (lib/kafka/client.ts scramFromSecret), given the credentials once read.
declare module "kafkajs/src/broker/saslAuthenticator/scram256.js" {
  import type { Mechanism } from "kafkajs";

  const provider: (sasl: { mechanism: string; username: string; password: string }) => Mechanism["authenticationProvider"];
  export default provider;
}
declare module "kafkajs/src/broker/saslAuthenticator/scram512.js" {
  import type { Mechanism } from "kafkajs";

  const provider: (sasl: { mechanism: string; username: string; password: string }) => Mechanism["authenticationProvider"];
  export default provider;
}
