import java.util.Properties;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.QuorumInfo;

/**
 * Prints the KRaft metadata quorum of the cluster at args[0] as one JSON line: the active controller (the
 * quorum's leader), the voters and the observers. KafkaJS has no DescribeQuorum request and, in KRaft, a
 * Metadata answer names a random broker as "controller"; Kafka's own Admin client (kafka-clients, on the
 * broker's classpath) asks the quorum itself. scripts/infra compiles this once into the cache (infra:status).
 */
public class QuorumStatus {
  public static void main(String[] args) throws Exception {
    Properties properties = new Properties();
    properties.put("bootstrap.servers", args[0]);
    properties.put("request.timeout.ms", "4000");
    properties.put("default.api.timeout.ms", "6000");
    try (Admin admin = Admin.create(properties)) {
      QuorumInfo quorum = admin.describeMetadataQuorum().quorumInfo().get();
      String voters = quorum.voters().stream().map(r -> String.valueOf(r.replicaId())).collect(Collectors.joining(","));
      String observers = quorum.observers().stream().map(r -> String.valueOf(r.replicaId())).collect(Collectors.joining(","));
      System.out.println(
          "{\"leaderId\":" + quorum.leaderId() + ",\"leaderEpoch\":" + quorum.leaderEpoch()
              + ",\"voters\":[" + voters + "],\"observers\":[" + observers + "]}");
    }
  }
}
