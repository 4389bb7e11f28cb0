# broker_ssl.cmake - the broker's SSL and SASL_SSL listeners (broker_ssl.sh):
# certificates made with openssl, kcat over SSL and SASL_SSL, plaintext and
# untrusting clients refused while the broker goes on, mutual TLS, refused
# configurations; prints an SSL vs PLAINTEXT throughput figure (not asserted).
add_test(NAME integration.broker_ssl COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/broker_ssl.sh)
set_tests_properties(integration.broker_ssl PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
