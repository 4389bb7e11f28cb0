# tls_auth.cmake - https:// listeners and HTTP basic authentication on the
# schema registry and the worker's REST API (tls_auth.sh): a self-signed
# certificate made with openssl, curl as the client. Needs openssl (the
# command), curl and python3.
add_test(NAME integration.tls_auth COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tls_auth.sh)
set_tests_properties(integration.tls_auth PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
