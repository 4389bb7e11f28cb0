# s3_postgres.cmake - PostgreSQL -> broker -> S3 sink (s3_postgres.sh): a
# real PostgreSQL 15 (snapshot and streaming of a typed table), the broker,
# the registry, s3rver (npm); the objects downloaded with awscli, decoded
# with avsc and compared with psql's rows: every change exactly once.
# Included by CMakeLists.txt here. Needs the plugins (build/plugins/*.so).
add_test(NAME integration.s3_postgres COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/s3_postgres.sh)
set_tests_properties(integration.s3_postgres PROPERTIES
  LABELS integration
  TIMEOUT 180
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
