// KafkaJS's internal modules have no types; lib/kafka/kafkajs-request-queue-fix.ts describes what it uses.
declare module "kafkajs/src/network/requestQueue/index.js" {
  const RequestQueue: new (...args: never[]) => object;
  export default RequestQueue;
}
