# groups.cmake - the consumer group suites. groups.sh: librdkafka consumers
# joining, leaving and dying under load (rk_group), kafkajs and kcat -G
# groups side by side, and `sluice groups`. Included by CMakeLists.txt here.
#
#   GROUP_TOOL   rk_group (produce / consume / check)
#   NODE_PATH    the repository's node_modules (kafkajs)
add_executable(rk_group rk_group.c)
target_link_libraries(rk_group PRIVATE PkgConfig::RDKAFKA)

add_test(NAME integration.groups COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/groups.sh)
set_tests_properties(integration.groups PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>;GROUP_TOOL=$<TARGET_FILE:rk_group>;NODE_PATH=${CMAKE_SOURCE_DIR}/node_modules")

# kafkajs.sh: kafkajs (node) and kcat -G groups side by side
add_test(NAME integration.kafkajs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/kafkajs.sh)
set_tests_properties(integration.kafkajs PROPERTIES
  LABELS integration
  TIMEOUT 180
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>;NODE_PATH=${CMAKE_SOURCE_DIR}/node_modules")
