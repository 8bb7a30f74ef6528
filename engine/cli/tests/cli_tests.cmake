# The CLI's own contract: help on every subcommand, clear rejection of bad usage.
set(cli $<TARGET_FILE:llama-worker>)
llama_worker_add_command_test(cli.help COMMAND ${cli} --help
  STDOUT_REGEX "inspect.*tokenize.*generate.*logits.*mkmodel.*bench" STDERR_EMPTY LABELS gate1)
llama_worker_add_command_test(cli.version COMMAND ${cli} --version
  STDOUT_REGEX "llama-worker [0-9]+\\.[0-9]+\\.[0-9]+" LABELS gate1)
foreach(subcommand inspect tokenize generate logits mkmodel bench)
  llama_worker_add_command_test(cli.${subcommand}.help COMMAND ${cli} ${subcommand} --help
    STDOUT_REGEX "Usage: .*${subcommand}" STDERR_EMPTY LABELS gate1)
endforeach()
llama_worker_add_command_test(cli.unknown_option COMMAND ${cli} --no-such-option
  EXPECT_EXIT 2 STDERR_REGEX "^error: .*--no-such-option" LABELS gate1)
llama_worker_add_command_test(cli.unknown_subcommand_option COMMAND ${cli} inspect model.gguf --no-such-option
  EXPECT_EXIT 2 STDERR_REGEX "^error: .*--no-such-option" LABELS gate1)
llama_worker_add_command_test(cli.unknown_subcommand COMMAND ${cli} frobnicate
  EXPECT_EXIT 2 STDERR_REGEX "^error: .*frobnicate" LABELS gate1)
llama_worker_add_command_test(cli.no_subcommand COMMAND ${cli}
  EXPECT_EXIT 2 STDERR_REGEX "^error: .*subcommand" LABELS gate1)
