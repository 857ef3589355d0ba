package dev.steadyrun.orchestrator.alert;

import java.util.List;
import java.util.UUID;

import jakarta.validation.Valid;

import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

import dev.steadyrun.orchestrator.alert.WebhookDtos.CreateWebhook;
import dev.steadyrun.orchestrator.alert.WebhookDtos.CreatedWebhook;
import dev.steadyrun.orchestrator.alert.WebhookDtos.Delivery;
import dev.steadyrun.orchestrator.alert.WebhookDtos.Webhook;
import dev.steadyrun.orchestrator.security.Caller;
import dev.steadyrun.orchestrator.security.RequiresRole;
import dev.steadyrun.orchestrator.security.Role;
import dev.steadyrun.orchestrator.web.BadRequestException;

/**
 * Alerting webhooks. Creating and deleting one needs ADMIN (a webhook sends fleet data to a destination of the
 * caller's choice); sending a test event and redelivering need OPERATOR (the POST default); reading needs VIEWER,
 * and shows anyone but an admin only the scheme, host and port of a destination.
 */
@RestController
@RequestMapping("/api/v1")
class WebhookController {

    private static final int MAX_DELIVERIES = 500;

    private final WebhookService webhooks;

    WebhookController(WebhookService webhooks) {
        this.webhooks = webhooks;
    }

    @PostMapping("/webhooks")
    @ResponseStatus(HttpStatus.CREATED)
    @RequiresRole(Role.ADMIN)
    CreatedWebhook create(@Valid @RequestBody CreateWebhook request, Caller caller) {
        return webhooks.create(request, caller.actor());
    }

    @GetMapping("/webhooks")
    List<Webhook> list(Caller caller) {
        return webhooks.list().stream().map(w -> forCaller(w, caller)).toList();
    }

    @GetMapping("/webhooks/{id}")
    Webhook get(@PathVariable UUID id, Caller caller) {
        return forCaller(webhooks.get(id), caller);
    }

    /** Only an admin, who may create webhooks anyway, sees a destination's path and query. */
    private static Webhook forCaller(Webhook webhook, Caller caller) {
        return caller.role() == Role.ADMIN ? webhook : webhook.masked();
    }

    @DeleteMapping("/webhooks/{id}")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    @RequiresRole(Role.ADMIN)
    void delete(@PathVariable UUID id) {
        webhooks.delete(id);
    }

    @PostMapping("/webhooks/{id}/test")
    @ResponseStatus(HttpStatus.ACCEPTED)
    Delivery test(@PathVariable UUID id) {
        return webhooks.sendTest(id);
    }

    @GetMapping("/webhooks/{id}/deliveries")
    List<Delivery> deliveries(@PathVariable UUID id, @RequestParam(defaultValue = "50") int limit) {
        if (limit < 1 || limit > MAX_DELIVERIES) {
            throw new BadRequestException("limit", "must be between 1 and " + MAX_DELIVERIES);
        }
        return webhooks.deliveries(id, limit);
    }

    @PostMapping("/webhook-deliveries/{id}/redeliver")
    @ResponseStatus(HttpStatus.ACCEPTED)
    Delivery redeliver(@PathVariable long id) {
        return webhooks.redeliver(id);
    }
}
