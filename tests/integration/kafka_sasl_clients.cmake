# kafka_sasl_clients.cmake - sluice's own Kafka clients (registry, worker,
# CLI) against a broker with only a SASL_PLAINTEXT listener
# (kafka_sasl_clients.sh): Kafka's key names, config errors, [hidden]
# secrets, a wrong password, --command-config.
add_test(NAME integration.kafka_sasl_clients
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/kafka_sasl_clients.sh)
set_tests_properties(integration.kafka_sasl_clients PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
