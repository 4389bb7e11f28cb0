# broker_sasl.cmake - the broker's SASL_PLAINTEXT listener with SASL/PLAIN
# (broker_sasl.sh): kcat with good and bad credentials, the raw exchange
# with python3, refused configurations.
add_test(NAME integration.broker_sasl COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/broker_sasl.sh)
set_tests_properties(integration.broker_sasl PROPERTIES
  LABELS integration
  TIMEOUT 180
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
