-- ferry 0008: the projects that may use a private flavor (Nova's flavor_projects, served as
-- /flavors/{id}/os-flavor-access). Immutable once landed.
CREATE TABLE flavor_projects (
    flavor_id   bigint NOT NULL REFERENCES flavors (id) ON DELETE CASCADE,
    -- 255: Nova's flavor_projects.project_id is a String(255)
    project_id  text NOT NULL CHECK (length(project_id) BETWEEN 1 AND 255),
    PRIMARY KEY (flavor_id, project_id)
);
