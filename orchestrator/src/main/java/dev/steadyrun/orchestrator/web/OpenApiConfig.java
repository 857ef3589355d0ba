package dev.steadyrun.orchestrator.web;

import java.util.List;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import io.swagger.v3.oas.models.servers.Server;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The description springdoc serves at {@code /v3/api-docs}. A relative server URL keeps the copy in
 * {@code docs/openapi.json} identical from one test run to the next (no random port in it).
 */
@Configuration(proxyBeanMethods = false)
class OpenApiConfig {

    @Bean
    OpenAPI steadyrunOpenApi() {
        return new OpenAPI()
                .info(new Info().title("Steadyrun orchestrator API").version("v1")
                        .description("Agents authenticate with the fleet join token (register) and then their node"
                                + " credential; operators with API tokens (roles VIEWER < OPERATOR < ADMIN)."
                                + " Errors are RFC 9457 problem details."))
                .servers(List.of(new Server().url("/")))
                .components(new Components().addSecuritySchemes("bearer",
                        new SecurityScheme().type(SecurityScheme.Type.HTTP).scheme("bearer")))
                .addSecurityItem(new SecurityRequirement().addList("bearer"));
    }
}
