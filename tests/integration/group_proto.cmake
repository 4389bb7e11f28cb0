# group_proto: the group coordinator's state machine over raw Kafka frames.
add_executable(group_proto ${CMAKE_CURRENT_SOURCE_DIR}/group_proto.c)
add_test(NAME integration.group_proto COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/group_proto.sh)
set_tests_properties(integration.group_proto PROPERTIES
  LABELS integration
  TIMEOUT 120
  ENVIRONMENT "${SLUICE_IT_ENV};GROUP_PROTO_TOOL=$<TARGET_FILE:group_proto>")
