package dev.steadyrun.orchestrator.web;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;

import jakarta.servlet.http.HttpServletResponse;

import org.apache.catalina.Valve;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.core.StandardHost;
import org.apache.catalina.valves.ErrorReportValve;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;

/**
 * Errors that Tomcat answers itself, before any filter or controller runs (an encoded {@code /}, {@code \} or NUL
 * in the path, a malformed encoding), get an RFC 9457 problem detail like every other error instead of Tomcat's
 * HTML page: Tomcat's error report valve is replaced by one that writes JSON.
 */
@Configuration(proxyBeanMethods = false)
class TomcatProblemPages {

    @Bean
    WebServerFactoryCustomizer<TomcatServletWebServerFactory> problemErrorReports() {
        // runs after Spring Boot's own customizer, which may add the HTML valve this one replaces; the host adds
        // one of its own class at start unless a valve of that class is already there
        return factory -> factory.addContextCustomizers(context -> {
            StandardHost host = (StandardHost) context.getParent();
            for (Valve valve : host.getPipeline().getValves()) {
                if (valve instanceof ErrorReportValve) {
                    host.getPipeline().removeValve(valve);
                }
            }
            host.setErrorReportValveClass(ProblemReportValve.class.getName());
            host.getPipeline().addValve(new ProblemReportValve());
        });
    }

    /** Writes a problem detail with a fixed text (nothing from the request is echoed). */
    static void write(HttpServletResponse response, HttpStatus status, String detail) throws IOException {
        response.setStatus(status.value());
        response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
        response.setCharacterEncoding(StandardCharsets.UTF_8.name());
        response.setHeader("Connection", "close");
        response.getWriter().write(json(status, detail));
    }

    private static String json(HttpStatus status, String detail) {
        return "{\"type\":\"about:blank\",\"title\":\"" + status.getReasonPhrase() + "\",\"status\":" + status.value()
                + ",\"detail\":\"" + detail.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}";
    }

    private static final class ProblemReportValve extends ErrorReportValve {

        @Override
        protected void report(Request request, Response response, Throwable throwable) {
            int code = response.getStatus();
            if (code < 400 || response.getContentWritten() > 0 || !response.setErrorReported()) {
                return; // nothing to report, or someone (Spring) already wrote the answer
            }
            HttpStatus status = HttpStatus.resolve(code);
            if (status == null) {
                return;
            }
            String detail = status == HttpStatus.BAD_REQUEST
                    ? "the request was refused before reaching the API: encoded '/', '\\' or NUL, or a malformed "
                            + "encoding in the path"
                    : status.getReasonPhrase();
            try {
                response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
                response.setCharacterEncoding(StandardCharsets.UTF_8.name());
                Writer writer = response.getReporter();
                if (writer != null) {
                    writer.write(json(status, detail));
                    response.finishResponse();
                }
            } catch (IOException | IllegalStateException e) {
                // the client went away or the response was committed meanwhile: nothing more to say
            }
        }
    }
}
