# Data files built into libplainsight (included by the top-level CMakeLists).
set(PS_EMBED_DIR ${PROJECT_BINARY_DIR}/generated)
function(ps_embed_data target input symbol)
  set(out ${PS_EMBED_DIR}/${symbol}.c)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${input} -DOUT=${out} -DSYMBOL=${symbol}
            -P ${PROJECT_SOURCE_DIR}/data/bin2c.cmake
    DEPENDS ${input} ${PROJECT_SOURCE_DIR}/data/bin2c.cmake
    COMMENT "Embedding ${input}")
  target_sources(${target} PRIVATE ${out})
endfunction()

ps_embed_data(plainsight_core ${PROJECT_SOURCE_DIR}/data/logsources.yml ps_sigma_builtin_logsources)
