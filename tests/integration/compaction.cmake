# compaction.sh: log compaction of a cleanup.policy=compact topic, end to end
# (kcat and `sluice produce` with every codec, tombstones, a restart).
add_test(NAME integration.compaction COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/compaction.sh)
set_tests_properties(integration.compaction PROPERTIES
  LABELS integration
  TIMEOUT 180
  ENVIRONMENT "${SLUICE_IT_ENV}")
