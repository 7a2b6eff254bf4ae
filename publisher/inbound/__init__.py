"""Mail that comes back: bounces, complaints, unsubscribe requests, replies.

`classify` reads one message and says what it is (a `Notice`), `verp` ties it to a delivery
or subscriber by the signed token in the address it was sent to, `effects` applies it to the
store once, and `sources` reads messages from standard input, a Maildir or a mailbox server.
"""
