package dev.steadyrun.orchestrator.web;

import org.springframework.boot.http.converter.autoconfigure.ServerHttpMessageConvertersCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.converter.yaml.JacksonYamlHttpMessageConverter;

/**
 * The API speaks JSON. Spring adds a YAML converter of its own whenever jackson-dataformat-yaml is on the
 * classpath (it is, for run specs); that converter's mapper would accept unknown fields silently on every
 * endpoint, so it is removed. The one endpoint that takes YAML reads it itself ({@code run.RunSpecYaml}).
 */
@Configuration(proxyBeanMethods = false)
class JsonOnlyWire {

    @Bean
    ServerHttpMessageConvertersCustomizer withoutYamlConverter() {
        return builder -> builder.configureMessageConvertersList(
                converters -> converters.removeIf(c -> c instanceof JacksonYamlHttpMessageConverter));
    }
}
