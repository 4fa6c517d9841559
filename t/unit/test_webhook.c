
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_webhook.c: realistic posts of each provider (Twilio's SMS and
 * call status callbacks, incoming SMS and WhatsApp; Meta's statuses and
 * messages; Africa's Talking's delivery reports and incoming SMS), the
 * status mapping tables in full, what is left out and what is refused;
 * keywords; TwiML escaping.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_otp_core.h"
#include "tap.h"


typedef int (*hook_pt)(const u_char *body, size_t len, u_char *scratch,
    ngx_otp_hook_t *h);


static ngx_otp_hook_t  h;
static u_char          *scratch;


static int
hook(hook_pt parse, const char *body)
{
    size_t  len;

    /* scratch of exactly body_len bytes: ASan sees a write past it */

    free(scratch);
    len = strlen(body);
    scratch = malloc(len ? len : 1);

    memset(&h, 0xa5, sizeof(h));

    return parse((const u_char *) body, len, scratch, &h);
}


static void
status_is(size_t i, const char *id, unsigned status, const char *error,
    const char *what)
{
    if (!ok(i < h.nstatuses, "%s: status %zu present", what, i)) {
        return;
    }

    is_str(h.statuses[i].id.data, h.statuses[i].id.len, id, "%s: id", what);
    is_int(h.statuses[i].status, status, "%s: status", what);
    is_str(h.statuses[i].error_code.data, h.statuses[i].error_code.len,
           error, "%s: error code", what);
}


static void
message_is(size_t i, const char *from, const char *text, unsigned channel,
    const char *what)
{
    if (!ok(i < h.nmessages, "%s: message %zu present", what, i)) {
        return;
    }

    is_str(h.messages[i].from, h.messages[i].from_len, from, "%s: from",
           what);
    is_str(h.messages[i].text.data, h.messages[i].text.len, text,
           "%s: text", what);
    is_int(h.messages[i].channel, channel, "%s: channel", what);
}


static void
counts(size_t nstatuses, size_t nmessages, const char *what)
{
    is_int(h.nstatuses, nstatuses, "%s: %zu statuses", what, nstatuses);
    is_int(h.nmessages, nmessages, "%s: %zu messages", what, nmessages);
}


#define TW_SMS_STATUS                                                        \
    "SmsSid=SM0123456789abcdef0123456789abcdef&SmsStatus=%s"                 \
    "&MessageStatus=%s&To=%%2B15558675310"                                   \
    "&MessageSid=SM0123456789abcdef0123456789abcdef"                         \
    "&AccountSid=AC0123456789abcdef0123456789abcdef"                         \
    "&From=%%2B15017250604&ApiVersion=2010-04-01%s"

#define TW_CALL_STATUS                                                       \
    "Called=%%2B15558675310&ToState=CA&CallerCountry=US"                     \
    "&Direction=outbound-api&Timestamp=Mon%%2C+30+Nov+2026+07%%3A00%%3A00"   \
    "+%%2B0000&CallbackSource=call-progress-events&SequenceNumber=3"         \
    "&CallSid=CA0123456789abcdef0123456789abcdef&To=%%2B15558675310"         \
    "&CallStatus=%s&Duration=1&CallDuration=12"                              \
    "&AccountSid=AC0123456789abcdef0123456789abcdef"                         \
    "&From=%%2B15017250604&ApiVersion=2010-04-01"

#define TW_SID  "SM0123456789abcdef0123456789abcdef"
#define TW_CSID "CA0123456789abcdef0123456789abcdef"


static void
test_twilio(void)
{
    char    body[2048], what[128];
    size_t  i;

    static const struct {
        const char  *name;
        unsigned     status;
    } messages[] = {
        { "accepted", NGX_OTP_STATUS_QUEUED },
        { "scheduled", NGX_OTP_STATUS_QUEUED },
        { "queued", NGX_OTP_STATUS_QUEUED },
        { "sending", NGX_OTP_STATUS_SENT },
        { "sent", NGX_OTP_STATUS_SENT },
        { "delivered", NGX_OTP_STATUS_DELIVERED },
        { "read", NGX_OTP_STATUS_READ },
        { "undelivered", NGX_OTP_STATUS_UNDELIVERED },
        { "failed", NGX_OTP_STATUS_FAILED },
        { "canceled", NGX_OTP_STATUS_FAILED },
        { "receiving", 0 },
        { "partially_delivered", 0 },
        { "Delivered", 0 },
    }, calls[] = {
        { "queued", NGX_OTP_STATUS_QUEUED },
        { "initiated", NGX_OTP_STATUS_QUEUED },
        { "ringing", NGX_OTP_STATUS_QUEUED },
        { "in-progress", NGX_OTP_STATUS_SENT },
        { "completed", NGX_OTP_STATUS_DELIVERED },
        { "busy", NGX_OTP_STATUS_UNDELIVERED },
        { "no-answer", NGX_OTP_STATUS_UNDELIVERED },
        { "failed", NGX_OTP_STATUS_FAILED },
        { "canceled", NGX_OTP_STATUS_FAILED },
        { "answered", 0 },
    };

    for (i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
        snprintf(body, sizeof(body), TW_SMS_STATUS, messages[i].name,
                 messages[i].name, "");
        snprintf(what, sizeof(what), "twilio SMS %s", messages[i].name);

        is_int(hook(ngx_otp_hook_twilio, body), NGX_OTP_OK, "%s: OK", what);
        counts(1, 0, what);
        status_is(0, TW_SID, messages[i].status, "", what);
    }

    for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        snprintf(body, sizeof(body), TW_CALL_STATUS, calls[i].name);
        snprintf(what, sizeof(what), "twilio call %s", calls[i].name);

        is_int(hook(ngx_otp_hook_twilio, body), NGX_OTP_OK, "%s: OK", what);
        counts(1, 0, what);
        status_is(0, TW_CSID, calls[i].status, "", what);
    }

    snprintf(body, sizeof(body), TW_SMS_STATUS, "undelivered", "undelivered",
             "&ErrorCode=30003");
    is_int(hook(ngx_otp_hook_twilio, body), NGX_OTP_OK,
           "twilio undelivered 30003: OK");
    status_is(0, TW_SID, NGX_OTP_STATUS_UNDELIVERED, "30003",
              "twilio undelivered 30003");

    snprintf(body, sizeof(body), TW_SMS_STATUS, "failed", "failed",
             "&ErrorCode=3000x");
    is_int(hook(ngx_otp_hook_twilio, body), NGX_OTP_OK,
           "twilio ErrorCode not digits: OK");
    status_is(0, TW_SID, NGX_OTP_STATUS_FAILED, "",
              "twilio ErrorCode not digits is left empty");

    /* incoming SMS, with SmsStatus and MessageStatus "received" */

    is_int(hook(ngx_otp_hook_twilio,
                "ToCountry=US&ToState=CA&SmsMessageSid=" TW_SID
                "&NumMedia=0&ToCity=&FromZip=&SmsSid=" TW_SID
                "&FromState=CA&SmsStatus=received&MessageStatus=received"
                "&FromCity=&Body=+STOP+&FromCountry=US&To=%2B15558675310"
                "&MessagingServiceSid=MG0123456789abcdef0123456789abcdef"
                "&ToZip=&NumSegments=1&MessageSid=" TW_SID
                "&AccountSid=AC0123456789abcdef0123456789abcdef"
                "&From=%2B14155551234&ApiVersion=2010-04-01"),
           NGX_OTP_OK, "twilio incoming SMS: OK");
    counts(0, 1, "twilio incoming SMS");
    message_is(0, "+14155551234", " STOP ", NGX_OTP_SMS,
               "twilio incoming SMS");

    is_int(hook(ngx_otp_hook_twilio,
                "SmsMessageSid=" TW_SID "&NumMedia=0&ProfileName=Jane"
                "&MessageType=text&SmsSid=" TW_SID "&WaId=14155551234"
                "&SmsStatus=received&Body=Hello%2C+I+said+%22stop%22"
                "&To=whatsapp%3A%2B14155238886&NumSegments=1"
                "&ReferralNumMedia=0&MessageSid=" TW_SID
                "&AccountSid=AC0123456789abcdef0123456789abcdef"
                "&From=whatsapp%3A%2B14155551234&ApiVersion=2010-04-01"),
           NGX_OTP_OK, "twilio incoming WhatsApp: OK");
    counts(0, 1, "twilio incoming WhatsApp");
    message_is(0, "+14155551234", "Hello, I said \"stop\"",
               NGX_OTP_WHATSAPP, "twilio incoming WhatsApp");

    is_int(hook(ngx_otp_hook_twilio,
                "MessageSid=" TW_SID "&From=messenger%3A1234&Body=STOP"),
           NGX_OTP_OK, "twilio incoming from a non-number: OK");
    counts(0, 1, "twilio incoming from a non-number");
    is_int(h.messages[0].from_len, 0,
           "twilio incoming from a non-number: from_len 0");

    is_int(hook(ngx_otp_hook_twilio,
                "MessageSid=" TW_SID "&From=5551234567&Body=STOP"),
           NGX_OTP_OK, "twilio incoming, a national number: OK");
    message_is(0, "", "STOP", NGX_OTP_SMS,
               "twilio incoming: no default country code is guessed");

    /* left out, refused */

    is_int(hook(ngx_otp_hook_twilio,
                "MessageSid=SM%22x&MessageStatus=delivered"),
           NGX_OTP_OK, "twilio id with a quote: OK");
    counts(0, 0, "twilio id with a quote is left out");

    is_int(hook(ngx_otp_hook_twilio, "MessageSid=&MessageStatus=delivered"),
           NGX_OTP_OK, "twilio empty id: OK");
    counts(0, 0, "twilio empty id is left out");

    memset(body, 'a', 200);
    memcpy(body, "MessageStatus=sent&MessageSid=", 30);
    body[30 + NGX_OTP_WIRE_ID_LEN + 1] = '\0';
    hook(ngx_otp_hook_twilio, body);
    counts(0, 0, "twilio id over NGX_OTP_WIRE_ID_LEN is left out");
    body[30 + NGX_OTP_WIRE_ID_LEN] = '\0';
    hook(ngx_otp_hook_twilio, body);
    counts(1, 0, "twilio id of NGX_OTP_WIRE_ID_LEN is taken");

    is_int(hook(ngx_otp_hook_twilio, "MessageStatus=delivered"),
           NGX_OTP_OK, "twilio status without an id: OK");
    counts(0, 0, "twilio status without an id");

    is_int(hook(ngx_otp_hook_twilio, "AccountSid=AC1&Foo=bar"), NGX_OTP_OK,
           "twilio, nothing of ours: OK");
    counts(0, 0, "twilio, nothing of ours");

    is_int(hook(ngx_otp_hook_twilio, ""), NGX_OTP_OK, "twilio empty: OK");
    counts(0, 0, "twilio empty");

    is_int(hook(ngx_otp_hook_twilio,
                "MessageSid=SM1&MessageStatus=sent&MessageStatus=delivered"),
           NGX_OTP_EINVAL, "twilio MessageStatus twice: EINVAL");
    counts(0, 0, "twilio EINVAL leaves nothing");
    is_int(hook(ngx_otp_hook_twilio, "MessageSid=SM1&Body=%4"),
           NGX_OTP_EINVAL, "twilio bad escape: EINVAL");
    is_int(hook(ngx_otp_hook_twilio, "MessageSid=SM1&Other=%zz"),
           NGX_OTP_EINVAL, "twilio bad escape in another field: EINVAL");
    is_int(hook(ngx_otp_hook_twilio,
                "MessageSid=SM1&From=%2B14155551234&Body=ST%00OP"),
           NGX_OTP_EINVAL, "twilio NUL in Body: EINVAL");
    is_int(hook(ngx_otp_hook_twilio,
                "Message%53id=SM1&MessageStatus=sent"),
           NGX_OTP_OK, "twilio percent-encoded name: OK");
    status_is(0, "SM1", NGX_OTP_STATUS_SENT, "",
              "twilio percent-encoded name is decoded");
}


#define META_HEAD                                                            \
    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":"          \
    "\"102290129340398\",\"changes\":[{\"value\":{\"messaging_product\":"    \
    "\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15550783881\","   \
    "\"phone_number_id\":\"106540352242922\"},"

#define META_TAIL  "},\"field\":\"messages\"}]}]}"


static void
test_meta(void)
{
    is_int(hook(ngx_otp_hook_meta, META_HEAD
                "\"statuses\":["
                "{\"id\":\"wamid.HBgLMTY0Njc=\",\"status\":\"delivered\","
                "\"timestamp\":\"1750263773\",\"recipient_id\":"
                "\"16467043595\",\"conversation\":{\"id\":\"abc\"},"
                "\"pricing\":{\"billable\":true}},"
                "{\"id\":\"wamid.A2\",\"status\":\"failed\","
                "\"timestamp\":\"1750263774\",\"recipient_id\":\"1646\","
                "\"errors\":[{\"code\":131026,\"title\":\"Message "
                "undeliverable\",\"error_data\":{\"details\":\"x\"}}]},"
                "{\"id\":\"wamid.A3\",\"status\":\"read\"},"
                "{\"id\":\"wamid.A4\",\"status\":\"sent\"},"
                "{\"id\":\"wamid.A5\",\"status\":\"deleted\"},"
                "{\"id\":\"wamid with space\",\"status\":\"read\"},"
                "{\"id\":\"wamid.\\\"q\",\"status\":\"read\"},"
                "{\"id\":42,\"status\":\"read\"},"
                "{\"status\":\"read\"},"
                "{\"id\":\"wamid.A6\",\"status\":\"failed\","
                "\"errors\":[{\"code\":\"131047\"}]},"
                "{\"id\":\"wamid.A7\",\"status\":\"failed\","
                "\"errors\":[{\"code\":-1}]}"
                "],\"messages\":["
                "{\"from\":\"16315551181\",\"id\":\"wamid.M1\","
                "\"timestamp\":\"1603059201\",\"text\":{\"body\":"
                "\"  Stop \\u00e9\"},\"type\":\"text\"},"
                "{\"context\":{\"from\":\"15550783881\",\"id\":\"wamid.C\"},"
                "\"from\":\"16315551182\",\"id\":\"wamid.M2\","
                "\"timestamp\":\"1603059202\",\"type\":\"button\","
                "\"button\":{\"text\":\"STOP\",\"payload\":\"stop-payload\"}},"
                "{\"from\":\"16315551183\",\"type\":\"interactive\","
                "\"interactive\":{\"type\":\"button_reply\",\"button_reply\":"
                "{\"id\":\"b1\",\"title\":\"Unsubscribe\"}}},"
                "{\"from\":\"16315551184\",\"type\":\"interactive\","
                "\"interactive\":{\"type\":\"list_reply\",\"list_reply\":"
                "{\"id\":\"l1\",\"title\":\"Help\"}}},"
                "{\"from\":\"16315551185\",\"type\":\"image\","
                "\"image\":{\"id\":\"i1\"}},"
                "{\"from\":\"+16315551186\",\"type\":\"text\","
                "\"text\":{\"body\":\"x\"}},"
                "{\"from\":\"06315551187\",\"type\":\"text\","
                "\"text\":{\"body\":\"nul\\u0000\"}}"
                "]" META_TAIL),
           NGX_OTP_OK, "meta statuses and messages: OK");

    /* bad ids (a space, a quote, a number, none) are left out */

    counts(7, 7, "meta");

    status_is(0, "wamid.HBgLMTY0Njc=", NGX_OTP_STATUS_DELIVERED, "",
              "meta delivered");
    status_is(1, "wamid.A2", NGX_OTP_STATUS_FAILED, "131026",
              "meta failed, errors[0].code");
    status_is(2, "wamid.A3", NGX_OTP_STATUS_READ, "", "meta read");
    status_is(3, "wamid.A4", NGX_OTP_STATUS_SENT, "", "meta sent");
    status_is(4, "wamid.A5", 0, "", "meta unknown status is 0");
    status_is(5, "wamid.A6", NGX_OTP_STATUS_FAILED, "131047",
              "meta error code as a string");
    status_is(6, "wamid.A7", NGX_OTP_STATUS_FAILED, "",
              "meta negative error code is left empty");

    message_is(0, "+16315551181", "  Stop \xc3\xa9", NGX_OTP_WHATSAPP,
               "meta text");
    message_is(1, "+16315551182", "STOP", NGX_OTP_WHATSAPP, "meta button");
    message_is(2, "+16315551183", "Unsubscribe", NGX_OTP_WHATSAPP,
               "meta interactive button_reply");
    message_is(3, "+16315551184", "Help", NGX_OTP_WHATSAPP,
               "meta interactive list_reply");
    message_is(4, "+16315551185", "", NGX_OTP_WHATSAPP,
               "meta image: no text");
    message_is(5, "", "x", NGX_OTP_WHATSAPP,
               "meta from with '+' is not Meta's form");
    message_is(6, "", "", NGX_OTP_WHATSAPP,
               "meta from with a leading 0, text with NUL");

    is_int(hook(ngx_otp_hook_meta,
                "{\"object\":\"whatsapp_business_account\",\"entry\":[{"
                "\"id\":\"1\",\"changes\":[{\"field\":\"account_update\","
                "\"value\":{\"event\":\"VERIFIED_ACCOUNT\"}}]}]}"),
           NGX_OTP_OK, "meta account_update: OK");
    counts(0, 0, "meta account_update");

    is_int(hook(ngx_otp_hook_meta, "{\"entry\":\"x\"}"), NGX_OTP_OK,
           "meta odd shape: OK");
    counts(0, 0, "meta odd shape");

    is_int(hook(ngx_otp_hook_meta, META_HEAD "\"statuses\":[{\"id\":\"w1\","
                "\"status\":\"sent\"}]" META_TAIL + 1),
           NGX_OTP_EINVAL, "meta truncated at the start: EINVAL");

    {
        char    body[1024];
        size_t  len;

        len = (size_t) snprintf(body, sizeof(body), "%s",
                                META_HEAD "\"statuses\":[{\"id\":\"w1\","
                                "\"status\":\"sent\"}]" META_TAIL);

        is_int(hook(ngx_otp_hook_meta, body), NGX_OTP_OK, "meta one: OK");
        counts(1, 0, "meta one");

        body[len - 3] = '\0';
        is_int(hook(ngx_otp_hook_meta, body), NGX_OTP_EINVAL,
               "meta truncated JSON: EINVAL");
        counts(0, 0, "meta truncated JSON leaves nothing");
    }

    is_int(hook(ngx_otp_hook_meta, ""), NGX_OTP_EINVAL, "meta empty: EINVAL");
    is_int(hook(ngx_otp_hook_meta, "[]"), NGX_OTP_EINVAL,
           "meta array: EINVAL");
    is_int(hook(ngx_otp_hook_meta, "{\"entry\":[],\"entry\":[]}"),
           NGX_OTP_EINVAL, "meta duplicate key: EINVAL");

    {
        char    body[256];
        size_t  i;

        for (i = 0; i < NGX_OTP_JSON_MAX_DEPTH + 1; i++) {
            body[i] = '[';
            body[2 * (NGX_OTP_JSON_MAX_DEPTH + 1) - 1 - i] = ']';
        }

        body[2 * (NGX_OTP_JSON_MAX_DEPTH + 1)] = '\0';
        is_int(hook(ngx_otp_hook_meta, body), NGX_OTP_EINVAL,
               "meta nested too deep: EINVAL");
    }

    {
        /* more than NGX_OTP_HOOK_MAX statuses: the first ones are taken */

        char    *body, last[16];
        size_t   i, len;

        body = malloc(128 * (NGX_OTP_HOOK_MAX + 8) + 64);

        len = (size_t) sprintf(body, "{\"entry\":[{\"changes\":[{\"value\":"
                               "{\"statuses\":[");

        for (i = 0; i < NGX_OTP_HOOK_MAX + 8; i++) {
            len += (size_t) sprintf(body + len, "%s{\"id\":\"w%zu\","
                                    "\"status\":\"sent\"}", i ? "," : "", i);
        }

        sprintf(body + len, "]}}]}]}");

        is_int(hook(ngx_otp_hook_meta, body), NGX_OTP_OK,
               "meta %d statuses: OK", NGX_OTP_HOOK_MAX + 8);
        is_int(h.nstatuses, NGX_OTP_HOOK_MAX, "meta: at most %d taken",
               NGX_OTP_HOOK_MAX);
        ok(h.truncated, "meta: the rest left out is told");
        sprintf(last, "w%d", NGX_OTP_HOOK_MAX - 1);
        status_is(NGX_OTP_HOOK_MAX - 1, last, NGX_OTP_STATUS_SENT, "",
                  "meta: the last one taken");

        /* a batch larger than the API's NGX_OTP_BODY_MAX_LEN is read */

        len = (size_t) sprintf(body, "{\"entry\":[{\"changes\":[{\"value\":"
                               "{\"statuses\":[");

        for (i = 0; i < NGX_OTP_HOOK_MAX; i++) {
            len += (size_t) sprintf(body + len, "%s{\"id\":\"w%zu\","
                                    "\"status\":\"sent\","
                                    "\"recipient_id\":\"15550100004\","
                                    "\"timestamp\":\"1700000000\"}",
                                    i ? "," : "", i);
        }

        sprintf(body + len, "]}}]}]}");

        ok(len > NGX_OTP_BODY_MAX_LEN, "meta: a body of %zu bytes", len);

        is_int(hook(ngx_otp_hook_meta, body), NGX_OTP_OK,
               "meta %d statuses: OK", NGX_OTP_HOOK_MAX);
        ok(h.nstatuses == NGX_OTP_HOOK_MAX && !h.truncated,
           "meta: all taken, nothing left out");

        free(body);

        body = malloc(NGX_OTP_HOOK_BODY_MAX_LEN + 2);

        if (body) {
            memset(body, ' ', NGX_OTP_HOOK_BODY_MAX_LEN + 1);
            body[0] = '{';
            body[NGX_OTP_HOOK_BODY_MAX_LEN - 1] = '}';
            body[NGX_OTP_HOOK_BODY_MAX_LEN + 1] = '\0';
            is_int(hook(ngx_otp_hook_meta, body), NGX_OTP_EINVAL,
                   "meta: a body over NGX_OTP_HOOK_BODY_MAX_LEN: EINVAL");
            body[NGX_OTP_HOOK_BODY_MAX_LEN] = '\0';
            is_int(hook(ngx_otp_hook_meta, body), NGX_OTP_OK,
                   "meta: a body of NGX_OTP_HOOK_BODY_MAX_LEN: OK");
            free(body);
        }
    }
}


static void
test_africastalking(void)
{
    size_t  i;
    char    body[512], what[128];

    static const struct {
        const char  *name;
        unsigned     status;
    } statuses[] = {
        { "Submitted", NGX_OTP_STATUS_SENT },
        { "Buffered", NGX_OTP_STATUS_SENT },
        { "Sent", NGX_OTP_STATUS_SENT },
        { "Success", NGX_OTP_STATUS_DELIVERED },
        { "Rejected", NGX_OTP_STATUS_FAILED },
        { "Failed", NGX_OTP_STATUS_FAILED },
        { "Queued", 0 },
        { "success", 0 },
    };

    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        snprintf(body, sizeof(body),
                 "phoneNumber=%%2B254711XXXYYY&retryCount=0&status=%s"
                 "&networkCode=63902&id=ATXid_9bcbc33a1a9a40b8b1ea1e1a8e7a",
                 statuses[i].name);
        snprintf(what, sizeof(what), "africastalking %s", statuses[i].name);

        is_int(hook(ngx_otp_hook_africastalking, body), NGX_OTP_OK,
               "%s: OK", what);
        counts(1, 0, what);
        status_is(0, "ATXid_9bcbc33a1a9a40b8b1ea1e1a8e7a",
                  statuses[i].status, "", what);
    }

    is_int(hook(ngx_otp_hook_africastalking,
                "phoneNumber=%2B254711XXXYYY&failureReason=UserInBlacklist"
                "&retryCount=0&status=Failed&networkCode=63902&id=ATXid_1"),
           NGX_OTP_OK, "africastalking failureReason: OK");
    status_is(0, "ATXid_1", NGX_OTP_STATUS_FAILED, "UserInBlacklist",
              "africastalking failureReason");

    is_int(hook(ngx_otp_hook_africastalking,
                "failureReason=User+In+Blacklist&status=Rejected&id=ATXid_2"),
           NGX_OTP_OK, "africastalking odd failureReason: OK");
    status_is(0, "ATXid_2", NGX_OTP_STATUS_FAILED, "",
              "africastalking failureReason with spaces is left empty");

    is_int(hook(ngx_otp_hook_africastalking, "status=Success&id=AT%5C1"),
           NGX_OTP_OK, "africastalking id with a backslash: OK");
    counts(0, 0, "africastalking id with a backslash is left out");

    is_int(hook(ngx_otp_hook_africastalking,
                "linkId=SampleLinkId123&text=stop&to=28901&id=ATXid_m1"
                "&date=2026-11-30+07%3A00%3A00&from=%2B254711082000"),
           NGX_OTP_OK, "africastalking incoming SMS: OK");
    counts(0, 1, "africastalking incoming SMS");
    message_is(0, "+254711082000", "stop", NGX_OTP_SMS,
               "africastalking incoming SMS");

    is_int(hook(ngx_otp_hook_africastalking, "id=1&status=Success&id=2"),
           NGX_OTP_EINVAL, "africastalking id twice: EINVAL");
    is_int(hook(ngx_otp_hook_africastalking, "id=1&status=Succ%ess"),
           NGX_OTP_EINVAL, "africastalking bad escape: EINVAL");
}


static void
test_keyword(void)
{
    size_t  i;

    static const struct {
        const char  *text;
        unsigned     keyword;
    } cases[] = {
        { "STOP", NGX_OTP_KEYWORD_STOP },
        { "Stop", NGX_OTP_KEYWORD_STOP },
        { "stop", NGX_OTP_KEYWORD_STOP },
        { " stop ", NGX_OTP_KEYWORD_STOP },
        { "\tSTOP\r\n", NGX_OTP_KEYWORD_STOP },
        { "StopAll", NGX_OTP_KEYWORD_STOP },
        { "unsubscribe", NGX_OTP_KEYWORD_STOP },
        { "CANCEL", NGX_OTP_KEYWORD_STOP },
        { "end", NGX_OTP_KEYWORD_STOP },
        { "Quit", NGX_OTP_KEYWORD_STOP },
        { "START", NGX_OTP_KEYWORD_START },
        { "yes", NGX_OTP_KEYWORD_YES },
        { "YES", NGX_OTP_KEYWORD_YES },
        { " Yes\n", NGX_OTP_KEYWORD_YES },
        { "yes please", NGX_OTP_KEYWORD_NONE },
        { "unstop", NGX_OTP_KEYWORD_START },
        { "UNSTOP ", NGX_OTP_KEYWORD_START },
        { "help", NGX_OTP_KEYWORD_HELP },
        { "Info", NGX_OTP_KEYWORD_HELP },
        { "STOP please", NGX_OTP_KEYWORD_NONE },
        { "please stop", NGX_OTP_KEYWORD_NONE },
        { "STOP!", NGX_OTP_KEYWORD_NONE },
        { "S TOP", NGX_OTP_KEYWORD_NONE },
        { "STO", NGX_OTP_KEYWORD_NONE },
        { "STOPP", NGX_OTP_KEYWORD_NONE },
        { "", NGX_OTP_KEYWORD_NONE },
        { "   ", NGX_OTP_KEYWORD_NONE },
        { "123456", NGX_OTP_KEYWORD_NONE },
        { "st\xc3\xb6p", NGX_OTP_KEYWORD_NONE },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        is_int(ngx_otp_keyword((const u_char *) cases[i].text,
                               strlen(cases[i].text)),
               cases[i].keyword, "keyword \"%s\"", cases[i].text);
    }

    is_int(ngx_otp_keyword((const u_char *) "STOP\0", 5),
           NGX_OTP_KEYWORD_NONE, "keyword: a NUL is no white space");
    is_int(ngx_otp_keyword((const u_char *) "STOPx", 4),
           NGX_OTP_KEYWORD_STOP, "keyword reads len bytes");
}


static int
twiml(const char *text, char *out, size_t cap, size_t *len)
{
    return ngx_otp_twiml_message((const u_char *) text, strlen(text),
                                 (u_char *) out, cap, len);
}


#define XML_HEAD  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"


static void
test_twiml(void)
{
    char    out[512];
    size_t  len, need;

    is_int(twiml("You are unsubscribed. Reply START to resubscribe.", out,
                 sizeof(out), &len),
           NGX_OTP_OK, "twiml: OK");
    is_str(out, len, XML_HEAD "<Response><Message>You are unsubscribed. "
           "Reply START to resubscribe.</Message></Response>",
           "twiml: a message");

    is_int(twiml("a<b>c&d\"e'f", out, sizeof(out), &len), NGX_OTP_OK,
           "twiml escapes: OK");
    is_str(out, len, XML_HEAD "<Response><Message>a&lt;b&gt;c&amp;d&quot;e"
           "&apos;f</Message></Response>", "twiml: <>&\"' escaped");

    is_int(twiml("</Message><Redirect>http://x</Redirect>", out,
                 sizeof(out), &len),
           NGX_OTP_OK, "twiml injection: OK");
    ok(strstr(out, "<Redirect>") == NULL, "twiml: no tag gets through");

    is_int(twiml("", out, sizeof(out), &len), NGX_OTP_OK, "twiml empty: OK");
    is_str(out, len, XML_HEAD "<Response/>", "twiml empty: <Response/>");

    is_int(twiml("caf\xc3\xa9\n\tline", out, sizeof(out), &len), NGX_OTP_OK,
           "twiml UTF-8, tab, LF: OK");
    is_str(out, len, XML_HEAD "<Response><Message>caf\xc3\xa9\n\tline"
           "</Message></Response>", "twiml UTF-8 kept as it is");

    is_int(twiml("a\x01" "b", out, sizeof(out), &len), NGX_OTP_EINVAL,
           "twiml control character: EINVAL");
    is_int(twiml("a\xc3", out, sizeof(out), &len), NGX_OTP_EINVAL,
           "twiml invalid UTF-8: EINVAL");

    is_int(ngx_otp_twiml_message((const u_char *) "a&b", 3, NULL, 0, &need),
           NGX_OTP_OK, "twiml measure: OK");
    is_int(need, sizeof(XML_HEAD "<Response><Message>a&amp;b</Message>"
                        "</Response>") - 1, "twiml measure: the length");
    is_int(twiml("a&b", out, need, &len), NGX_OTP_OK,
           "twiml: cap exactly the length");
    is_int(twiml("a&b", out, need - 1, &len), NGX_OTP_ETOOBIG,
           "twiml: cap one byte short");
}


int
main(void)
{
    test_twilio();
    test_meta();
    test_africastalking();
    test_keyword();
    test_twiml();

    free(scratch);

    return tap_done();
}
