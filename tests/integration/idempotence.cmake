# idempotence: librdkafka's idempotent producer through a proxy that cuts
# connections mid-response (faultproxy), with a kill -9 of the broker in the
# middle; then the log must hold every message exactly once, in order.
# Registered here (a fragment auto-included by CMakeLists.txt) with its own
# programs in the environment:
#   IDEM_TOOL   rk_idem      (produce | verify)
#   PROXY_TOOL  faultproxy
foreach(prog rk_idem faultproxy)
  add_executable(${prog} ${CMAKE_CURRENT_SOURCE_DIR}/${prog}.c)
endforeach()
target_link_libraries(rk_idem PRIVATE PkgConfig::RDKAFKA Threads::Threads)

add_test(NAME integration.idempotence
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/idempotence.sh)
set_tests_properties(integration.idempotence PROPERTIES
  LABELS integration
  TIMEOUT 420
  ENVIRONMENT "${SLUICE_IT_ENV};IDEM_TOOL=$<TARGET_FILE:rk_idem>;PROXY_TOOL=$<TARGET_FILE:faultproxy>")
