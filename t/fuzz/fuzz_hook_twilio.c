
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_hook_twilio(): Twilio's form posts (status
 * callbacks of messages and calls, incoming SMS and WhatsApp).
 * The whole input is the body; the invariants are fuzz_hook.h's.
 */


#include "ngx_otp_core.h"
#include "fuzz.h"
#include "fuzz_hook.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_hook(ngx_otp_hook_twilio, data, size,
              NGX_OTP_SMS | NGX_OTP_WHATSAPP, 0);

    return 0;
}
