package dev.steadyrun.orchestrator.alert;

/** How a delivery's body is written: the Standard Webhooks JSON envelope, or a Slack incoming-webhook message. */
enum WebhookFormat {
    JSON,
    SLACK
}
