package dev.steadyrun.orchestrator.database;

import com.zaxxer.hikari.HikariDataSource;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.jdbc.autoconfigure.DataSourceProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The DataSource, built only after {@link DatabaseBootstrap} made sure the server and database exist. */
@Configuration(proxyBeanMethods = false)
class DatabaseConfig {

    @Bean(destroyMethod = "close")
    DatabaseBootstrap databaseBootstrap(DataSourceProperties dataSource, DatabaseProperties props) {
        return DatabaseBootstrap.prepare(dataSource.determineUrl(), dataSource.determineUsername(),
                dataSource.determinePassword(), props);
    }

    @Bean
    LockTicker lockTicker() {
        return System::nanoTime;
    }

    @Bean
    @ConfigurationProperties("spring.datasource.hikari")
    HikariDataSource dataSource(DataSourceProperties dataSource, DatabaseBootstrap bootstrap) {
        return dataSource.initializeDataSourceBuilder().type(HikariDataSource.class).url(bootstrap.jdbcUrl())
                .username(bootstrap.username()).build();
    }
}
