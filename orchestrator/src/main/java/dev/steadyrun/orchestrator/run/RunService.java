package dev.steadyrun.orchestrator.run;

import java.time.Clock;
import java.util.List;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Stream;

import org.springframework.data.domain.Page;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

import dev.steadyrun.orchestrator.node.NodeRegistry;
import dev.steadyrun.orchestrator.program.Programs;
import dev.steadyrun.orchestrator.web.BadRequestException;
import dev.steadyrun.orchestrator.web.NotFoundException;
import dev.steadyrun.protocol.ProgramRef;
import tools.jackson.databind.ObjectMapper;

/** Submits runs, answers for them and applies operators' actions through the state machine. */
@Service
public class RunService {

    static final int MAX_PAGE_SIZE = 200;

    private final RunRepository runs;
    private final RunEventRepository events;
    private final RunStateMachine stateMachine;
    private final RunTelemetry telemetry;
    private final GoodputLedger goodput;
    private final NodeRegistry nodes;
    private final Programs programs;
    private final RunSpecResolver resolver;
    private final RunsProperties props;
    private final ObjectMapper json;
    private final Clock clock;

    RunService(RunRepository runs, RunEventRepository events, RunStateMachine stateMachine, RunTelemetry telemetry,
               GoodputLedger goodput, NodeRegistry nodes, Programs programs, RunsProperties props, ObjectMapper json, Clock clock) {
        this.runs = runs;
        this.events = events;
        this.stateMachine = stateMachine;
        this.telemetry = telemetry;
        this.goodput = goodput;
        this.nodes = nodes;
        this.programs = programs;
        this.resolver = new RunSpecResolver(props.checkpointRoot());
        this.props = props;
        this.json = json;
        this.clock = clock;
    }

    @Transactional
    public RunResponse submit(RunSpecRequest request, String actor) {
        RunSpec spec = resolver.resolve(request);
        RecoveryPolicy.parse(spec.recoveryPolicy()); // 400 naming the field, before anything is stored
        programs.requireRegistered(spec.program()); // 422 naming program
        Predicate<UUID> installed = programs.installedOn(spec.program());
        int schedulable = (int) Stream.concat(nodes.availableNodes().stream(), nodes.spareNodes().stream())
                .filter(n -> spec.fits(n.labels(), n.gpuCount()) && installed.test(n.id())).count();
        if (spec.nodes() > schedulable) {
            throw new FleetTooSmallException("worldSize", "asks for " + spec.nodes() + " nodes ("
                    + spec.worldSize() + " ranks, " + spec.ranksPerNode() + " a node) but the fleet has " + schedulable
                    + " schedulable (healthy or spare) nodes"
                    + (spec.gpusPerNode() == 0 ? "" : " with " + spec.gpusPerNode() + " GPUs or more")
                    + (spec.nodeSelector().isEmpty() ? "" : " matching nodeSelector " + spec.nodeSelector())
                    + (spec.program().equals(ProgramRef.BUILT_IN) ? "" : " with program " + spec.program()
                    + " installed"));
        }
        if ((long) spec.nodes() + spec.spares() > schedulable) { // long: the bounds keep it small, this keeps it exact
            throw new FleetTooSmallException("spares", spec.nodes() + " nodes plus " + spec.spares()
                    + " spares exceeds the fleet's " + schedulable + " schedulable (healthy or spare) nodes"
                    + (spec.program().equals(ProgramRef.BUILT_IN) ? "" : " with program " + spec.program()
                    + " installed"));
        }
        Run run = new Run(UUID.randomUUID(), spec.name(), json.writeValueAsString(spec), spec.worldSize(),
                spec.spares(), clock.instant(), actor);
        runs.save(run);
        stateMachine.recordSubmission(run, actor);
        return response(run);
    }

    @Transactional(readOnly = true)
    public RunPage list(int page, int size, RunState state) {
        if (page < 0) {
            throw new BadRequestException("page", "must be 0 or more, was " + page);
        }
        if (size < 1 || size > MAX_PAGE_SIZE) {
            throw new BadRequestException("size", "must be 1 to " + MAX_PAGE_SIZE + ", was " + size);
        }
        PageRequest request = PageRequest.of(page, size, Sort.by(Sort.Order.desc("createdAt"), Sort.Order.asc("id")));
        Page<Run> found = state == null ? runs.findAll(request) : runs.findByState(state, request);
        return new RunPage(found.map(this::response).getContent(), page, size, found.getTotalElements());
    }

    @Transactional(readOnly = true)
    public RunResponse get(UUID id) {
        return response(find(id));
    }

    @Transactional
    public RunResponse act(UUID id, RunAction action, String actor) {
        Run run = runs.findForUpdate(id).orElseThrow(() -> notFound(id));
        RunState target = action.targetFrom(run.getState())
                .orElseThrow(() -> new IllegalRunTransitionException(run.getState(), action));
        stateMachine.transition(run, target, action.name().toLowerCase() + " requested", actor);
        return response(run);
    }

    /** The first step report of a placement: its trainers are up. */
    @Transactional
    public void markRunning(UUID id, long generation, String actor) {
        Run run = runs.findForUpdate(id).orElseThrow(() -> notFound(id));
        if (run.getState() == RunState.STARTING && run.getGeneration() == generation) {
            stateMachine.transition(run, RunState.RUNNING, "first step of generation " + generation + " reported",
                    actor);
        }
    }

    @Transactional(readOnly = true)
    public List<RunEventResponse> events(UUID id) {
        find(id);
        return events.findByRunIdOrderById(id).stream().map(RunEventResponse::of).toList();
    }

    @Transactional(readOnly = true)
    public MetricsResponse metrics(UUID id, Long fromStep, Long toStep, Integer maxPoints) {
        find(id);
        long from = fromStep == null ? 0 : fromStep;
        long to = toStep == null ? Long.MAX_VALUE : toStep;
        int points = maxPoints == null ? Math.min(1000, props.maxMetricPoints()) : maxPoints;
        if (from < 0) {
            throw new BadRequestException("fromStep", "must be 0 or more, was " + from);
        }
        if (to < from) {
            throw new BadRequestException("toStep", "must not be below fromStep (" + from + "), was " + to);
        }
        if (points < 1 || points > props.maxMetricPoints()) {
            throw new BadRequestException("maxPoints", "must be 1 to " + props.maxMetricPoints() + ", was " + points);
        }
        return telemetry.metrics(id, from, to, points);
    }

    /** The run's goodput breakdown; all zero (no from, to or goodput) before its first placement. */
    @Transactional(readOnly = true)
    public GoodputResponse goodput(UUID id) {
        find(id);
        GoodputResponse breakdown = goodput.breakdown(id, clock.instant());
        return breakdown != null ? breakdown : new GoodputResponse(id, null, null, 0, 0, 0, 0, 0, 0, null);
    }

    private Run find(UUID id) {
        return runs.findById(id).orElseThrow(() -> notFound(id));
    }

    public static NotFoundException notFound(UUID id) {
        return new NotFoundException("no run " + id);
    }

    private RunResponse response(Run run) {
        RunTelemetry.RecoveryFigures figures = telemetry.recoveryFigures(run.getId(), run.getState(),
                run.getStateChangedAt(), clock.instant());
        return new RunResponse(run.getId(), run.getName(), run.getState(), run.getStateReason(),
                run.getStateChangedAt(), run.getGeneration(), run.getWorldSize(), run.getSpares(), run.getLastStep(),
                run.getLastLoss(), run.getTokensSeen(), run.getCreatedAt(), run.getCreatedBy(),
                json.readValue(run.getSpec(), RunSpec.class), figures.restarts(), figures.goodput(),
                figures.openIncidents());
    }
}
