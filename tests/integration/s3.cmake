# s3.cmake - the S3 sink suite (s3.sh): s3rver (npm) as the S3 server,
# the broker, the worker with datagen -> s3 pipelines; objects checked with
# awscli and avsc (s3_decode.js): exactly once, rotation, partitioners,
# file:// lake, kill -9 during and after uploads, bad input. Included by
# CMakeLists.txt here. Needs the plugins (build/plugins/*.so).
add_test(NAME integration.s3 COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/s3.sh)
set_tests_properties(integration.s3 PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
