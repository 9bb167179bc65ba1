"""A request's output contract compiled into what constrains a model: llguidance grammars
for JSON Schemas, literals and tool calls, and the words for the system turn. Shared by the
engines that sample under a grammar (llama.cpp here, a llama.cpp upstream built with
llguidance); neither engine imports the other."""
