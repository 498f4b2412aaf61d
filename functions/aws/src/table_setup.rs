//! Creates a table from its definition in `infra/template.yaml` (feature `table-setup`), so the
//! integration tests and the local program run on exactly the table CloudFormation deploys: keys, GSIs
//! with their projections, billing mode and TTL come from the template, never from a second copy here.
//!
//! It reads `Resources.Table.Properties` and issues CreateTable, waits until the table and its indexes
//! are ACTIVE, then UpdateTimeToLive for `TimeToLiveSpecification`. Properties that only a real
//! account has (point-in-time recovery, server-side encryption, deletion policies) are left to
//! CloudFormation. The template's CloudFormation tags (`!Ref`, `!GetAtt`, …) elsewhere are read as plain
//! values and ignored.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType, Projection,
    ProjectionType, ProvisionedThroughput, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use yaml_rust2::{Yaml, YamlLoader};

/// The logical id of the table resource in the template.
pub const TABLE_RESOURCE: &str = "Table";

/// How long to wait for a new table to become ACTIVE (DynamoDB Local: at once; AWS: seconds).
const ACTIVE_WITHIN: Duration = Duration::from_secs(120);

/// Why a table could not be created from the template.
#[derive(Debug, thiserror::Error)]
pub enum TableSetupError {
    /// The template does not define the table as expected.
    #[error("infra/template.yaml: {0}")]
    Template(String),
    /// DynamoDB refused or failed a call.
    #[error("DynamoDB {operation}: {message}")]
    DynamoDb { operation: &'static str, message: String },
    #[error("the table {0} did not become ACTIVE within {ACTIVE_WITHIN:?}")]
    NotActive(String),
}

fn template(message: impl Into<String>) -> TableSetupError {
    TableSetupError::Template(message.into())
}

fn aws<E: std::error::Error + 'static>(operation: &'static str) -> impl FnOnce(E) -> TableSetupError {
    move |err| TableSetupError::DynamoDb {
        operation,
        message: DisplayErrorContext(&err).to_string(),
    }
}

fn text<'a>(node: &'a Yaml, path: &str) -> Result<&'a str, TableSetupError> {
    node.as_str().ok_or_else(|| template(format!("{path} is not a string")))
}

fn list<'a>(node: &'a Yaml, path: &str) -> Result<&'a [Yaml], TableSetupError> {
    node.as_vec()
        .map(Vec::as_slice)
        .ok_or_else(|| template(format!("{path} is not a list")))
}

fn number(node: &Yaml, path: &str) -> Result<i64, TableSetupError> {
    // CloudFormation accepts numbers written as strings too.
    node.as_i64()
        .or_else(|| node.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| template(format!("{path} is not a number")))
}

fn flag(node: &Yaml, path: &str) -> Result<bool, TableSetupError> {
    node.as_bool()
        .or_else(|| node.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| template(format!("{path} is not true or false")))
}

fn keys(node: &Yaml, path: &str) -> Result<Vec<KeySchemaElement>, TableSetupError> {
    list(node, path)?
        .iter()
        .map(|key| {
            KeySchemaElement::builder()
                .attribute_name(text(&key["AttributeName"], path)?)
                .key_type(KeyType::from(text(&key["KeyType"], path)?))
                .build()
                .map_err(|e| template(format!("{path}: {e}")))
        })
        .collect()
}

fn throughput(node: &Yaml, path: &str) -> Result<Option<ProvisionedThroughput>, TableSetupError> {
    if node.is_badvalue() {
        return Ok(None);
    }
    ProvisionedThroughput::builder()
        .read_capacity_units(number(&node["ReadCapacityUnits"], path)?)
        .write_capacity_units(number(&node["WriteCapacityUnits"], path)?)
        .build()
        .map(Some)
        .map_err(|e| template(format!("{path}: {e}")))
}

/// What the template says the table is, as a CreateTable request and an optional TTL attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    pub attributes: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    pub indexes: Vec<GlobalSecondaryIndex>,
    pub billing_mode: Option<BillingMode>,
    pub throughput: Option<ProvisionedThroughput>,
    /// The TTL attribute, when TTL is enabled.
    pub ttl_attribute: Option<String>,
}

impl TableDefinition {
    /// Reads `Resources.Table.Properties` of a CloudFormation/SAM template.
    pub fn from_template(template_yaml: &str) -> Result<Self, TableSetupError> {
        let docs = YamlLoader::load_from_str(template_yaml).map_err(|e| template(e.to_string()))?;
        let doc = docs.first().ok_or_else(|| template("the template is empty"))?;
        let resource = &doc["Resources"][TABLE_RESOURCE];
        if resource["Type"].as_str() != Some("AWS::DynamoDB::Table") {
            return Err(template(format!(
                "Resources.{TABLE_RESOURCE} is not an AWS::DynamoDB::Table"
            )));
        }
        let props = &resource["Properties"];

        let attributes = list(&props["AttributeDefinitions"], "AttributeDefinitions")?
            .iter()
            .map(|attr| {
                AttributeDefinition::builder()
                    .attribute_name(text(&attr["AttributeName"], "AttributeDefinitions")?)
                    .attribute_type(ScalarAttributeType::from(text(
                        &attr["AttributeType"],
                        "AttributeDefinitions",
                    )?))
                    .build()
                    .map_err(|e| template(format!("AttributeDefinitions: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let key_schema = keys(&props["KeySchema"], "KeySchema")?;

        let mut indexes = vec![];
        if !props["GlobalSecondaryIndexes"].is_badvalue() {
            for gsi in list(&props["GlobalSecondaryIndexes"], "GlobalSecondaryIndexes")? {
                let name = text(&gsi["IndexName"], "GlobalSecondaryIndexes.IndexName")?;
                let path = format!("GlobalSecondaryIndexes.{name}");
                let projection = &gsi["Projection"];
                let mut built = Projection::builder().projection_type(ProjectionType::from(text(
                    &projection["ProjectionType"],
                    &format!("{path}.Projection.ProjectionType"),
                )?));
                if !projection["NonKeyAttributes"].is_badvalue() {
                    for attr in list(&projection["NonKeyAttributes"], &path)? {
                        built = built.non_key_attributes(text(attr, &path)?);
                    }
                }
                indexes.push(
                    GlobalSecondaryIndex::builder()
                        .index_name(name)
                        .set_key_schema(Some(keys(&gsi["KeySchema"], &path)?))
                        .projection(built.build())
                        .set_provisioned_throughput(throughput(&gsi["ProvisionedThroughput"], &path)?)
                        .build()
                        .map_err(|e| template(format!("{path}: {e}")))?,
                );
            }
        }

        let billing_mode = props["BillingMode"].as_str().map(BillingMode::from);
        let throughput = throughput(&props["ProvisionedThroughput"], "ProvisionedThroughput")?;
        let ttl = &props["TimeToLiveSpecification"];
        let ttl_attribute = if ttl.is_badvalue() || !flag(&ttl["Enabled"], "TimeToLiveSpecification.Enabled")? {
            None
        } else {
            Some(text(&ttl["AttributeName"], "TimeToLiveSpecification.AttributeName")?.to_owned())
        };
        Ok(Self {
            attributes,
            key_schema,
            indexes,
            billing_mode,
            throughput,
            ttl_attribute,
        })
    }
}

/// Creates `table_name` as `Resources.Table` of `template_yaml` defines it, waits until it is ACTIVE, and
/// turns TTL on as the template says.
pub async fn create_table_from_template(
    client: &Client,
    table_name: &str,
    template_yaml: &str,
) -> Result<(), TableSetupError> {
    let def = TableDefinition::from_template(template_yaml)?;
    client
        .create_table()
        .table_name(table_name)
        .set_attribute_definitions(Some(def.attributes))
        .set_key_schema(Some(def.key_schema))
        .set_global_secondary_indexes((!def.indexes.is_empty()).then_some(def.indexes))
        .set_billing_mode(def.billing_mode)
        .set_provisioned_throughput(def.throughput)
        .send()
        .await
        .map_err(aws("CreateTable"))?;

    let deadline = tokio::time::Instant::now() + ACTIVE_WITHIN;
    loop {
        let out = client
            .describe_table()
            .table_name(table_name)
            .send()
            .await
            .map_err(aws("DescribeTable"))?;
        let table = out.table.as_ref();
        let table_active = table.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
        let indexes_active = table
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .all(|gsi| gsi.index_status() == Some(&IndexStatus::Active));
        if table_active && indexes_active {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(TableSetupError::NotActive(table_name.to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    if let Some(attribute) = def.ttl_attribute {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(attribute)
            .enabled(true)
            .build()
            .map_err(|e| template(format!("TimeToLiveSpecification: {e}")))?;
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(aws("UpdateTimeToLive"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

    #[test]
    fn the_table_definition_is_read_from_the_template() {
        let def = TableDefinition::from_template(TEMPLATE).unwrap();
        let names: Vec<&str> = def.attributes.iter().map(|a| a.attribute_name()).collect();
        assert_eq!(names, ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"]);
        assert_eq!(def.key_schema.len(), 2);
        let indexes: Vec<&str> = def.indexes.iter().map(|i| i.index_name()).collect();
        assert_eq!(indexes, ["due", "lookup"]);
        assert!(
            def.indexes
                .iter()
                .all(|i| i.projection().and_then(|p| p.projection_type()) == Some(&ProjectionType::All))
        );
        assert_eq!(def.billing_mode, Some(BillingMode::PayPerRequest));
        assert_eq!(def.ttl_attribute.as_deref(), Some("expires_at"));
    }

    #[test]
    fn a_template_without_the_table_is_refused_with_a_reason() {
        let err = TableDefinition::from_template("Resources:\n  Other:\n    Type: AWS::S3::Bucket\n").unwrap_err();
        assert!(err.to_string().contains("not an AWS::DynamoDB::Table"), "{err}");
        let err = TableDefinition::from_template(
            "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: !Ref Nothing\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("AttributeDefinitions"), "{err}");
    }
}
