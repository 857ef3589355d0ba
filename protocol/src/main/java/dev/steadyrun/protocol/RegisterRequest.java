package dev.steadyrun.protocol;

import java.util.List;
import java.util.Map;

/**
 * Sent once by an agent to {@code POST /api/v1/agents/register}, authenticated with the fleet join token
 * ({@code Authorization: Bearer <join token>}). Registering again under the same node name re-joins that
 * node and issues a fresh credential.
 *
 * @param labels placement labels such as {@code rack} and {@code zone}
 */
public record RegisterRequest(String nodeName, String hostname, List<GpuInfo> gpus, Map<String, String> labels,
                              String agentVersion) {
}
