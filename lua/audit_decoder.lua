-- audit_decoder.lua: Heka SandboxDecoder for Linux audit logs -- a thin
-- wrapper around the decoder module decoders/audit_heka.lua, which holds the
-- decoding logic for Heka and Hindsight alike (docs/lua-decoder.md).
--
-- Install: this file in Heka's lua_decoders directory, the module as
-- <module_directory>/decoders/audit_heka.lua (module_directory defaults to
-- <share_dir>/lua_modules); configuration in heka.toml ([audit_decoder]).
--
-- Heka calls process_message() once per line (LogstreamerInput's default
-- TokenSplitter); the module injects each completed event as a Heka protobuf
-- string, which keeps the nanosecond Timestamp and 64-bit integers exact.

require "string"
local audit = require "decoders.audit_heka"

local read_message, inject_message = read_message, inject_message

local function inject(_, data) inject_message(data) end

function process_message()
    return audit.process(read_message("Payload"), read_message("Hostname"), inject)
end

-- Not called by Heka (decoders get no timer_event and no end-of-input call):
-- the test harness calls it at end of input to take the events still pending,
-- as `audit-heka replay` ships them when its input ends.
function flush_events()
    return audit.flush(read_message("Hostname"), inject)
end
